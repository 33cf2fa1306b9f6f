"""Drivers for problem 8, calling the training code the ways scripts call it (no oracle here):
a checkpoint path as a pathlib.Path, a loss function that is an nn.Module or a lambda, a real
open file, a device given as a torch.device. Models and batches come from a seed alone, so the
tests can rebuild the same run with PyTorch on the trusted side."""

import os
import pathlib
import shutil
import tempfile

import torch
from torch import nn
from torch.nn import functional as F

LOSSES = {"function": F.mse_loss, "module": nn.MSELoss(), "lambda": lambda out, target: ((out - target) ** 2).mean()}


def make_model(seed: int) -> nn.Module:
    """A small MLP whose weights come from `seed` alone."""
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model


def make_batch(seed: int, step: int):
    g = torch.Generator().manual_seed(seed * 7919 + step)
    return torch.randn(3, 4, generator=g), torch.randn(3, 2, generator=g)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def train_with(impl, seed: int, num_steps: int, start_step: int, every: int, path_kind, loss_kind: str) -> dict:
    """train() on a fresh model and SGD(momentum) with the checkpoint path given as `path_kind`
    (None, "str" or "pathlike") and the loss as `loss_kind`; then the saved file's iteration, read back
    through the implementation's load_checkpoint (None: no file)."""
    folder = tempfile.mkdtemp(prefix="training_calls_")
    try:
        path = os.path.join(folder, "run.ckpt")
        target = {None: None, "str": path, "pathlike": pathlib.Path(path)}[path_kind]
        model = make_model(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = impl.training.train(model, optimizer, lambda step: make_batch(seed, step), LOSSES[loss_kind], num_steps,
                                     start_step=start_step, checkpoint_path=target, checkpoint_every=every)
        saved = None
        if os.path.exists(path):
            scratch = make_model(seed + 1)
            saved = impl.training.load_checkpoint(target, scratch, torch.optim.SGD(scratch.parameters(), lr=0.05, momentum=0.9))
        return {"losses": [float(v) for v in losses], "loss_types": [type(v).__name__ for v in losses],
                "saved_iteration": saved, "params": _params(model)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def checkpoint_through_open_files(impl, seed: int, iteration: int) -> dict:
    """Three torch-only SGD steps, save_checkpoint into open(path, "wb"), load_checkpoint from open(path, "rb")
    into a model and optimizer built from another seed; what was loaded."""
    model = make_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        optimizer.zero_grad()
        F.mse_loss(model(make_batch(seed, step)[0]), make_batch(seed, step)[1]).backward()
        optimizer.step()
    folder = tempfile.mkdtemp(prefix="training_calls_")
    try:
        path = os.path.join(folder, "run.ckpt")
        with open(path, "wb") as handle:
            impl.training.save_checkpoint(model, optimizer, iteration, handle)
        dest = make_model(seed + 1)
        dest_opt = torch.optim.SGD(dest.parameters(), lr=0.05, momentum=0.9)
        with open(path, "rb") as handle:
            loaded = impl.training.load_checkpoint(handle, dest, dest_opt)
        momenta = [dest_opt.state[p]["momentum_buffer"].clone() for p in dest.parameters() if "momentum_buffer" in dest_opt.state[p]]
        return {"iteration": loaded, "params": _params(dest), "momenta": momenta}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def batch_on_device_object(impl, data, batch_size: int, context_length: int, generator_seed: int) -> dict:
    """get_batch with `device` a torch.device (not a string)."""
    g = torch.Generator().manual_seed(generator_seed)
    x, y = impl.training.get_batch(data, batch_size, context_length, torch.device("cpu"), generator=g)
    return {"x": x.cpu(), "y": y.cpu(), "dtypes": [str(x.dtype), str(y.dtype)], "devices": [x.device.type, y.device.type]}


def train_with_path_only(impl, seed: int, num_steps: int) -> dict:
    """train() given a checkpoint path but no checkpoint_every (its default): is a file left?"""
    folder = tempfile.mkdtemp(prefix="training_calls_")
    try:
        path = os.path.join(folder, "run.ckpt")
        model = make_model(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = impl.training.train(model, optimizer, lambda step: make_batch(seed, step), F.mse_loss, num_steps, checkpoint_path=path)
        return {"num_losses": len(losses), "file": os.path.exists(path)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
