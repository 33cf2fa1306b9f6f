"""Drivers for problem 8, calling the training code the ways scripts call it (no oracle here):
a checkpoint path as a pathlib.Path, a loss function that is an nn.Module or a lambda, a real
open file, a device given as a torch.device. Models, optimizers and batches are
tests/drivers/training.py's, built from seeds alone, so the tests rebuild the same runs with
PyTorch on the trusted side (tests/oracles/training.py)."""

import os
import pathlib

import torch
from torch import nn
from torch.nn import functional as F

from tests.drivers import fresh_process
from tests.drivers import training as base

LOSSES = {"function": F.mse_loss, "module": nn.MSELoss(), "lambda": lambda out, target: ((out - target) ** 2).mean()}


def train_with(impl, seed: int, num_steps: int, start_step: int, every: int, path_kind, loss_kind: str) -> dict:
    """train() on make_model(seed) and SGD(momentum) with the checkpoint path given as `path_kind`
    (None, "str" or "pathlike") and the loss as `loss_kind`; the saved file's bytes come back (None: no file)."""
    with base._scratch_dir() as folder:
        path = os.path.join(folder, "run.ckpt")
        target = {None: None, "str": path, "pathlike": pathlib.Path(path)}[path_kind]
        model = base.make_model(seed)
        losses = impl.training.train(model, base.make_optimizer("sgd", model), base.make_batch_fn(seed), LOSSES[loss_kind], num_steps,
                                     start_step=start_step, checkpoint_path=target, checkpoint_every=every)
        return {"losses": [float(v) for v in losses], "loss_types": [type(v).__name__ for v in losses],
                "params": base.params_of(model), "checkpoint": base._file_bytes(path)}


def save_into_open_file(impl, seed: int, iteration: int) -> dict:
    """save_checkpoint(checkpoint_source("sgd", seed), iteration) into open(path, "wb"); the bytes written."""
    model, optimizer = base.checkpoint_source("sgd", seed)
    with base._scratch_dir() as folder:
        path = os.path.join(folder, "run.ckpt")
        with open(path, "wb") as handle:
            impl.training.save_checkpoint(model, optimizer, iteration, handle)
        return {"checkpoint": base._file_bytes(path)}


@fresh_process
def load_from_open_file(impl, checkpoint) -> dict:
    """load_checkpoint from open(path, "rb") into make_model(DEST_SEED) and its SGD: what was loaded."""
    model = base.make_model(base.DEST_SEED)
    optimizer = base.make_optimizer("sgd", model)
    with base._checkpoint_file(checkpoint) as path, open(path, "rb") as handle:
        iteration = impl.training.load_checkpoint(handle, model, optimizer)
    return {"iteration": iteration, "params": base.params_of(model), "state": base.optimizer_state(optimizer)}


def batch_on_device_object(impl, data, batch_size: int, context_length: int, generator_seed: int) -> dict:
    """get_batch with `device` a torch.device (not a string)."""
    g = torch.Generator().manual_seed(generator_seed)
    x, y = impl.training.get_batch(data, batch_size, context_length, torch.device("cpu"), generator=g)
    return {"x": x.cpu(), "y": y.cpu(), "dtypes": [str(x.dtype), str(y.dtype)], "devices": [x.device.type, y.device.type]}


def train_with_path_only(impl, seed: int, num_steps: int) -> dict:
    """train() given a checkpoint path but no checkpoint_every (its default): is a file left?"""
    with base._scratch_dir() as folder:
        path = os.path.join(folder, "run.ckpt")
        model = base.make_model(seed)
        losses = impl.training.train(model, base.make_optimizer("sgd", model), base.make_batch_fn(seed), F.mse_loss, num_steps, checkpoint_path=path)
        return {"num_losses": len(losses), "file": os.path.exists(path)}
