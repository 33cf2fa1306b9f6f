"""Scenarios for problem 8 (training): live models, optimizers, memmaps and checkpoints.

Each scenario builds its objects from plain torch.nn modules and torch.optim optimizers
(never the submission's Linear or optimizers, so that problem 8 stands on its own) and
returns plain data only. The `torch_*` functions are the trusted oracles: the same
computation written with PyTorch alone, called by the tests on the trusted side.
Nothing here uses a global RNG for its own draws; where a scenario must touch the global
generators (set_seed, the generator-less get_batch), it restores them afterwards.
"""

import contextlib
import io
import os
import pathlib
import random
import shutil
import tempfile
import tracemalloc

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

D_IN, HIDDEN, D_OUT, BATCH = 5, 7, 3, 4


@contextlib.contextmanager
def _global_rngs_restored():
    """Leave Python's, NumPy's and PyTorch's global generators as they were."""
    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@contextlib.contextmanager
def _scratch_dir():
    path = tempfile.mkdtemp(prefix="training_scenario_")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- models, optimizers and batches, all seeded explicitly ----------------------------


def make_model(seed: int, device: str = "cpu") -> nn.Module:
    """A small MLP whose weights come from `seed` alone (no global RNG)."""
    model = nn.Sequential(nn.Linear(D_IN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, D_OUT))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.to(device)


def make_optimizer(name: str, model: nn.Module) -> torch.optim.Optimizer:
    """torch.optim optimizers with state that matters (momentum, moments)."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    raise ValueError(name)


def make_batch_fn(seed: int, device: str = "cpu"):
    """batch_fn(step): a batch that depends only on `seed` and `step`."""

    def batch_fn(step: int):
        g = torch.Generator().manual_seed(seed * 100_003 + step)
        x = torch.randn(BATCH, D_IN, generator=g)
        y = torch.randn(BATCH, D_OUT, generator=g)
        return x.to(device), y.to(device)

    return batch_fn


def _params(model: nn.Module) -> list:
    return [p.detach().cpu().clone() for p in model.parameters()]


def _optimizer_state(optimizer: torch.optim.Optimizer) -> list:
    """Every state value, in parameter order then key order, as CPU tensors."""
    values = []
    for p in (p for group in optimizer.param_groups for p in group["params"]):
        for key in sorted(optimizer.state[p]):
            value = optimizer.state[p][key]
            values.append(value.detach().cpu().clone() if torch.is_tensor(value) else torch.tensor(value))
    return values


def _tensor_dtypes(tensors) -> list:
    return [str(t.dtype) for t in tensors if torch.is_tensor(t) and t.is_floating_point()]


# --- set_seed -----------------------------------------------------------------------


def seed_draws(impl, seeds: list, device: str = "cpu") -> list:
    """For each seed: set_seed(seed), then draws from random, NumPy and torch."""
    draws = []
    with _global_rngs_restored():
        for seed in seeds:
            impl.training.set_seed(seed)
            draws.append(
                {
                    "random": [random.random() for _ in range(3)],
                    "numpy": np.random.random(3).tolist(),
                    "torch": torch.rand(3, device=device).cpu().tolist(),
                }
            )
    return draws


# --- get_batch ----------------------------------------------------------------------


def batches(
    impl,
    data,
    batch_size: int,
    context_length: int,
    device: str = "cpu",
    generator_seed=None,
    global_seed: int = 0,
    calls: int = 1,
) -> dict:
    """`calls` batches from one generator (seeded `generator_seed`, or none) after
    seeding the global torch generator with `global_seed`."""
    with _global_rngs_restored():
        torch.manual_seed(global_seed)
        g = None if generator_seed is None else torch.Generator().manual_seed(generator_seed)
        xs, ys = [], []
        for _ in range(calls):
            x, y = impl.training.get_batch(data, batch_size, context_length, device, generator=g)
            xs.append(x)
            ys.append(y)
    return {
        "x": [x.cpu() for x in xs],
        "y": [y.cpu() for y in ys],
        "dtypes": [str(t.dtype) for t in xs + ys],
        "devices": [t.device.type for t in xs + ys],
    }


class _FreshTensorBytes(TorchFunctionMode):
    """The largest tensor any torch call made outside `buffer` (the memmap's own memory): a
    zero-copy torch.from_numpy(dataset) is free, dataset.long() or torch.tensor(dataset) is not.
    (A function mode, not a dispatch mode: its first use imports nothing.)"""

    def __init__(self, buffer: tuple[int, int]):
        super().__init__()
        self.buffer = buffer
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in torch.utils._pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu":
                start, nbytes = tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes()
                if not self.buffer[0] <= start < self.buffer[1]:
                    self.largest = max(self.largest, nbytes)
        return out


@contextlib.contextmanager
def _bytes_loaded(dataset: np.ndarray):
    """What the block copied, in bytes, measured the same way on every OS: the peak of what
    Python and NumPy allocated (NumPy reports its arrays to tracemalloc) and the largest
    tensor torch made outside the dataset's own memory. Yields a dict filled in at the end."""
    result = {}
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    start = dataset.ctypes.data
    mode = _FreshTensorBytes((start, start + dataset.nbytes))
    try:
        with mode:
            yield result
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if not was_tracing:
            tracemalloc.stop()
        result.update(numpy_bytes=int(peak), torch_bytes=int(mode.largest))


def memmap_batch(impl, num_bytes: int, batch_size: int, context_length: int, seed: int = 0) -> dict:
    """get_batch on a sparse np.memmap of `num_bytes` (uint16 tokens), measuring how many bytes
    it copied (see `_bytes_loaded`): slicing windows copies a few KiB, loading the file whole
    copies at least the file. No rlimit, no /proc: the verdict is the same on every OS.

    Only the first and last 64 tokens are written (1..64 and 65..128); the rest read as 0.
    """
    with _scratch_dir() as folder:
        path = os.path.join(folder, "tokens.bin")
        num_tokens = num_bytes // 2
        with open(path, "wb") as f:
            f.truncate(num_tokens * 2)  # sparse: no disk blocks, no memory
            f.seek(0)
            f.write(np.arange(1, 65, dtype=np.uint16).tobytes())
            f.seek((num_tokens - 64) * 2)
            f.write(np.arange(65, 129, dtype=np.uint16).tobytes())
        small = os.path.join(folder, "warm-up.bin")
        np.arange(1, 129, dtype=np.uint16).tofile(small)
        # A first call may import modules, whose memory tracemalloc counts: make it on a
        # small file, and do not count it.
        warm_up = np.memmap(small, dtype=np.uint16, mode="r")
        with _bytes_loaded(warm_up):
            impl.training.get_batch(warm_up, 2, 4, "cpu")
        data = np.memmap(path, dtype=np.uint16, mode="r")
        g = torch.Generator().manual_seed(seed)
        with _bytes_loaded(data) as loaded:
            x, y = impl.training.get_batch(data, batch_size, context_length, "cpu", generator=g)
        out = {
            "x": x.cpu().clone(),
            "y": y.cpu().clone(),
            "dtype": str(x.dtype),
            "dataset_bytes": int(data.nbytes),
            "bytes_copied": max(loaded["numpy_bytes"], loaded["torch_bytes"]),
        }
        del data, x, y
    return out


# --- train_step ---------------------------------------------------------------------


def _steps(step_fn, optimizer_name, steps, seed, autocast_dtype, device):
    model = make_model(seed, device)
    optimizer = make_optimizer(optimizer_name, model)
    batch_fn = make_batch_fn(seed, device)
    losses = [step_fn(model, optimizer, *batch_fn(step), F.mse_loss, autocast_dtype) for step in range(steps)]
    state = _optimizer_state(optimizer)
    return {
        "losses": [float(loss) for loss in losses],
        "loss_types": [type(loss).__name__ for loss in losses],
        "params": _params(model),
        "param_dtypes": _tensor_dtypes(list(model.parameters())),
        "state": state,
        "state_dtypes": _tensor_dtypes([v for v in state if v.dim() > 0]),
        "devices": sorted({p.device.type for p in model.parameters()}),
    }


def _torch_step(model, optimizer, x, y, loss_fn, autocast_dtype=None):
    """The oracle's step: what train_step must do, written with PyTorch alone."""
    optimizer.zero_grad()
    with torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_steps(impl, optimizer: str, steps: int, seed: int, autocast_dtype=None, device: str = "cpu") -> dict:
    """`steps` calls of the submission's train_step on a seeded model and optimizer."""
    return _steps(impl.training.train_step, optimizer, steps, seed, autocast_dtype, device)


def torch_train_steps(optimizer: str, steps: int, seed: int, autocast_dtype=None, device: str = "cpu") -> dict:
    """Oracle for train_steps (trusted side)."""
    return _steps(_torch_step, optimizer, steps, seed, autocast_dtype, device)


# --- checkpoints and the loop -------------------------------------------------------


def checkpoint_roundtrip(impl, optimizer: str, target: str, iteration: int, seed: int) -> dict:
    """Train 3 steps, save through the submission, load into a fresh model and optimizer.

    `target` picks what `out`/`src` is: "str", "pathlike" or "bytesio".
    """
    source = make_model(seed)
    source_opt = make_optimizer(optimizer, source)
    batch_fn = make_batch_fn(seed)
    for step in range(3):
        _torch_step(source, source_opt, *batch_fn(step), F.mse_loss)
    dest = make_model(seed + 1)
    dest_opt = make_optimizer(optimizer, dest)
    with _scratch_dir() as folder:
        if target == "bytesio":
            out = io.BytesIO()
            impl.training.save_checkpoint(source, source_opt, iteration, out)
            out.seek(0)
            src = out
        else:
            path = os.path.join(folder, "ckpt.pt")
            out = src = path if target == "str" else pathlib.Path(path)
            impl.training.save_checkpoint(source, source_opt, iteration, out)
        loaded = impl.training.load_checkpoint(src, dest, dest_opt)
    return {
        "iteration": loaded,
        "params_saved": _params(source),
        "params_loaded": _params(dest),
        "state_saved": _optimizer_state(source_opt),
        "state_loaded": _optimizer_state(dest_opt),
        "lr_loaded": [group["lr"] for group in dest_opt.param_groups],
    }


def train_losses(impl, optimizer: str, num_steps: int, seed: int) -> dict:
    """One call of train() from step 0, without checkpoints."""
    model = make_model(seed)
    opt = make_optimizer(optimizer, model)
    losses = impl.training.train(model, opt, make_batch_fn(seed), F.mse_loss, num_steps)
    return {"losses": [float(v) for v in losses], "loss_types": [type(v).__name__ for v in losses], "params": _params(model)}


def torch_train_losses(optimizer: str, num_steps: int, seed: int) -> dict:
    """Oracle for train_losses (trusted side)."""
    model = make_model(seed)
    opt = make_optimizer(optimizer, model)
    batch_fn = make_batch_fn(seed)
    losses = [_torch_step(model, opt, *batch_fn(step), F.mse_loss) for step in range(num_steps)]
    return {"losses": losses, "loss_types": ["float"] * num_steps, "params": _params(model)}


def resume(impl, optimizer: str, num_steps: int, stop_at: int, every: int, seed: int) -> dict:
    """An uninterrupted run, against one stopped at `stop_at` and resumed from its last
    checkpoint into a model and optimizer built from another seed."""
    batch_fn = make_batch_fn(seed)
    full_model = make_model(seed)
    full_opt = make_optimizer(optimizer, full_model)
    full = impl.training.train(full_model, full_opt, batch_fn, F.mse_loss, num_steps)
    with _scratch_dir() as folder:
        path = os.path.join(folder, "ckpt.pt")
        model = make_model(seed)
        opt = make_optimizer(optimizer, model)
        part = impl.training.train(
            model, opt, batch_fn, F.mse_loss, stop_at, checkpoint_path=path, checkpoint_every=every
        )
        resumed_model = make_model(seed + 1)  # loading must overwrite these weights and state
        resumed_opt = make_optimizer(optimizer, resumed_model)
        iteration = impl.training.load_checkpoint(path, resumed_model, resumed_opt)
        rest = impl.training.train(
            resumed_model, resumed_opt, batch_fn, F.mse_loss, num_steps, start_step=iteration
        )
    return {
        "full": [float(v) for v in full],
        "part": [float(v) for v in part],
        "iteration": iteration,
        "rest": [float(v) for v in rest],
        "params_full": _params(full_model),
        "params_resumed": _params(resumed_model),
    }


def checkpoint_cadence(impl, runs: list, optimizer: str = "sgd", seed: int = 0) -> list:
    """For each (start_step, num_steps, every, with_path): run train() once from a fresh
    model and report the iteration of the file left behind (None: no file)."""
    results = []
    for start_step, num_steps, every, with_path in runs:
        with _scratch_dir() as folder:
            path = os.path.join(folder, "ckpt.pt")
            model = make_model(seed)
            opt = make_optimizer(optimizer, model)
            losses = impl.training.train(
                model, opt, make_batch_fn(seed), F.mse_loss, num_steps,
                start_step=start_step, checkpoint_path=path if with_path else None, checkpoint_every=every,
            )
            iteration = None
            if os.path.exists(path):
                scratch = make_model(seed + 1)
                iteration = impl.training.load_checkpoint(path, scratch, make_optimizer(optimizer, scratch))
            results.append({"iteration": iteration, "num_losses": len(losses)})
    return results
