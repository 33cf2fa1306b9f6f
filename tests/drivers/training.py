"""Drivers for problem 8 (training): live models, optimizers, memmaps and checkpoints.

Each driver builds its objects from plain torch.nn modules and torch.optim optimizers
(never the submission's Linear or optimizers, so that problem 8 stands on its own), hands
them to the submission's functions and returns what they did, as plain data. The expected
runs (PyTorch's own loop) are computed on the trusted side, in tests/oracles/training.py.
Nothing here uses a global RNG for its own draws; where a driver must touch the global
generators (set_seed, the generator-less get_batch), it restores them afterwards.

A checkpoint is written by one call, its bytes come back to the trusted side, and another
call, which the grader runs in a fresh process with an empty scratch folder (`fresh_process`),
loads them into a model built from DEST_SEED; the run that wrote them started from a seed the
reading call is never told, so only what the submission saved can make its values right.
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

from tests.drivers import fresh_process

D_IN, HIDDEN, D_OUT, BATCH = 5, 7, 3, 4
DEST_SEED = 2**31 - 1  # the fresh model a checkpoint is loaded into; no run starts from it


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
    path = tempfile.mkdtemp(prefix="training_driver_")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _file_bytes(path: str):
    """A file's bytes as a uint8 array (plain data, to be handed on by the trusted side), or None."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8).copy()


@contextlib.contextmanager
def _checkpoint_file(checkpoint, target: str = "str"):
    """`checkpoint` (bytes an earlier call sent back) as load_checkpoint's `src`: a str path, an
    os.PathLike or a BytesIO (`target`), in a folder removed afterwards."""
    if checkpoint is None:
        raise FileNotFoundError("no checkpoint file was left to load")
    data = np.asarray(checkpoint, dtype=np.uint8).tobytes()
    with _scratch_dir() as folder:
        path = os.path.join(folder, "ckpt.pt")
        with open(path, "wb") as f:
            f.write(data)
        yield io.BytesIO(data) if target == "bytesio" else path if target == "str" else pathlib.Path(path)


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


def params_of(model: nn.Module) -> list:
    return [p.detach().cpu().clone() for p in model.parameters()]


def optimizer_state(optimizer: torch.optim.Optimizer) -> list:
    """Every state value, in parameter order then key order, as CPU tensors."""
    values = []
    for p in (p for group in optimizer.param_groups for p in group["params"]):
        for key in sorted(optimizer.state[p]):
            value = optimizer.state[p][key]
            values.append(value.detach().cpu().clone() if torch.is_tensor(value) else torch.tensor(value))
    return values


def float_dtypes(tensors) -> list:
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


def run_steps(step_fn, optimizer_name, steps, seed, autocast_dtype=None, device="cpu") -> dict:
    """`steps` calls of step_fn(model, optimizer, x, y, loss_fn, autocast_dtype) on a model and
    optimizer built from `seed`: what they returned, and the model and optimizer after."""
    model = make_model(seed, device)
    optimizer = make_optimizer(optimizer_name, model)
    batch_fn = make_batch_fn(seed, device)
    losses = [step_fn(model, optimizer, *batch_fn(step), F.mse_loss, autocast_dtype) for step in range(steps)]
    state = optimizer_state(optimizer)
    return {
        "losses": [float(loss) for loss in losses],
        "loss_types": [type(loss).__name__ for loss in losses],
        "params": params_of(model),
        "param_dtypes": float_dtypes(list(model.parameters())),
        "state": state,
        "state_dtypes": float_dtypes([v for v in state if v.dim() > 0]),
        "devices": sorted({p.device.type for p in model.parameters()}),
    }


def train_steps(impl, optimizer: str, steps: int, seed: int, autocast_dtype=None, device: str = "cpu") -> dict:
    """`steps` calls of the submission's train_step on a seeded model and optimizer."""
    return run_steps(impl.training.train_step, optimizer, steps, seed, autocast_dtype, device)


# --- checkpoints ----------------------------------------------------------------------


def checkpoint_source(optimizer: str, seed: int):
    """The model and optimizer a checkpoint test saves: make_model(seed), then three optimizer
    steps on gradients drawn from `seed` (no loss, no backward), so the optimizer has state."""
    model = make_model(seed)
    opt = make_optimizer(optimizer, model)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(3):
        for p in model.parameters():
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
    return model, opt


def checkpoint_save(impl, optimizer: str, target: str, iteration: int, seed: int) -> dict:
    """save_checkpoint(checkpoint_source(optimizer, seed), iteration) through a str, an
    os.PathLike or a BytesIO (`target`); the bytes it wrote, for checkpoint_load."""
    model, opt = checkpoint_source(optimizer, seed)
    if target == "bytesio":
        out = io.BytesIO()
        impl.training.save_checkpoint(model, opt, iteration, out)
        return {"checkpoint": np.frombuffer(out.getvalue(), dtype=np.uint8).copy()}
    with _scratch_dir() as folder:
        path = os.path.join(folder, "ckpt.pt")
        impl.training.save_checkpoint(model, opt, iteration, path if target == "str" else pathlib.Path(path))
        return {"checkpoint": _file_bytes(path)}


@fresh_process
def checkpoint_load(impl, optimizer: str, target: str, checkpoint) -> dict:
    """load_checkpoint of the bytes checkpoint_save wrote, into a fresh model and optimizer
    (DEST_SEED): the iteration it returns, and the weights, state and lr it restored."""
    model = make_model(DEST_SEED)
    opt = make_optimizer(optimizer, model)
    with _checkpoint_file(checkpoint, target) as src:
        iteration = impl.training.load_checkpoint(src, model, opt)
    return {
        "iteration": iteration,
        "params": params_of(model),
        "state": optimizer_state(opt),
        "lr": [group["lr"] for group in opt.param_groups],
    }


def checkpoint_roundtrip(impl, optimizer: str, target: str, iteration: int, seed: int) -> dict:
    """checkpoint_save then checkpoint_load in ONE process: the hint probes' single call. A test
    makes the two calls, so that the reading one runs in a fresh process."""
    saved = checkpoint_save(impl, optimizer, target, iteration, seed)
    return checkpoint_load(impl, optimizer, target, saved["checkpoint"])


# --- the loop -------------------------------------------------------------------------


def train_losses(impl, optimizer: str, num_steps: int, seed: int) -> dict:
    """One call of train() from step 0, without checkpoints."""
    model = make_model(seed)
    opt = make_optimizer(optimizer, model)
    losses = impl.training.train(model, opt, make_batch_fn(seed), F.mse_loss, num_steps)
    return {"losses": [float(v) for v in losses], "loss_types": [type(v).__name__ for v in losses], "params": params_of(model)}


def train_until(impl, optimizer: str, num_steps: int, stop_at: int, every: int, init_seed: int, data_seed: int) -> dict:
    """An uninterrupted train() of `num_steps` from make_model(init_seed), and one stopped after
    `stop_at` steps that checkpoints every `every` steps: the last checkpoint's bytes, for train_resumed."""
    batch_fn = make_batch_fn(data_seed)
    full_model = make_model(init_seed)
    full = impl.training.train(full_model, make_optimizer(optimizer, full_model), batch_fn, F.mse_loss, num_steps)
    model = make_model(init_seed)
    with _scratch_dir() as folder:
        path = os.path.join(folder, "ckpt.pt")
        part = impl.training.train(model, make_optimizer(optimizer, model), batch_fn, F.mse_loss, stop_at,
                                   checkpoint_path=path, checkpoint_every=every)
        checkpoint = _file_bytes(path)
    return {"full": [float(v) for v in full], "params_full": params_of(full_model), "part": [float(v) for v in part],
            "checkpoint": checkpoint}


@fresh_process
def train_resumed(impl, optimizer: str, num_steps: int, checkpoint, data_seed: int) -> dict:
    """load_checkpoint of the checkpoint train_until left, into a fresh model and optimizer
    (DEST_SEED), then train(..., start_step=iteration) up to `num_steps`."""
    model = make_model(DEST_SEED)
    opt = make_optimizer(optimizer, model)
    with _checkpoint_file(checkpoint) as path:
        iteration = impl.training.load_checkpoint(path, model, opt)
    rest = impl.training.train(model, opt, make_batch_fn(data_seed), F.mse_loss, num_steps, start_step=iteration)
    return {"iteration": iteration, "rest": [float(v) for v in rest], "params": params_of(model)}


def resume(impl, optimizer: str, num_steps: int, stop_at: int, every: int, seed: int) -> dict:
    """train_until then train_resumed in ONE process: the hint probes' single call (a test makes
    the two calls)."""
    until = train_until(impl, optimizer, num_steps, stop_at, every, seed, seed)
    resumed = train_resumed(impl, optimizer, num_steps, until["checkpoint"], seed)
    return {"full": until["full"], "part": until["part"], "iteration": resumed["iteration"], "rest": resumed["rest"]}


def train_cadence(impl, runs: list, optimizer: str = "sgd", init_seed: int = 0, data_seed: int = 0) -> dict:
    """For each (start_step, num_steps, every, with_path): train() once from make_model(init_seed);
    the bytes of the checkpoint file it left (None: none), for read_checkpoints, and its losses' count."""
    checkpoints, num_losses = [], []
    for start_step, num_steps, every, with_path in runs:
        model = make_model(init_seed)
        with _scratch_dir() as folder:
            path = os.path.join(folder, "ckpt.pt")
            losses = impl.training.train(
                model, make_optimizer(optimizer, model), make_batch_fn(data_seed), F.mse_loss, num_steps,
                start_step=start_step, checkpoint_path=path if with_path else None, checkpoint_every=every,
            )
            checkpoints.append(_file_bytes(path))
        num_losses.append(len(losses))
    return {"checkpoints": checkpoints, "num_losses": num_losses}


@fresh_process
def read_checkpoints(impl, checkpoints: list, optimizer: str = "sgd") -> list:
    """Per checkpoint of train_cadence: None where there was none, else load_checkpoint into a
    fresh model and optimizer (DEST_SEED): the iteration it returns and the weights it restored."""
    found = []
    for checkpoint in checkpoints:
        if checkpoint is None:
            found.append(None)
            continue
        model = make_model(DEST_SEED)
        with _checkpoint_file(checkpoint) as path:
            iteration = impl.training.load_checkpoint(path, model, make_optimizer(optimizer, model))
        found.append({"iteration": iteration, "params": params_of(model)})
    return found
