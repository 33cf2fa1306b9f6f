"""Problem 8: data loading, the training step, checkpoints and the loop."""

from __future__ import annotations

import contextlib
import os
import random
from typing import BinaryIO, Callable

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from assignment.model import Cruncher  # noqa: F401  (the model the loop is written for)

_CKPT_VERSION = 1


def set_seed(seed: int) -> None:
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every device's generator
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def get_batch(
    dataset: npt.NDArray,
    batch_size: int,
    context_length: int,
    device,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    if batch_size <= 0 or context_length <= 0:
        raise ValueError("batch_size and context_length must be positive")
    if dataset.ndim != 1:
        raise ValueError("dataset must be 1-D")
    n = int(dataset.shape[0])
    num_starts = n - context_length  # valid starts: 0 .. n - context_length - 1
    if num_starts < 1:
        raise ValueError(f"dataset of {n} tokens is too short for context_length {context_length}")
    gen_device = generator.device if generator is not None else "cpu"
    starts = torch.randint(num_starts, (batch_size,), generator=generator, device=gen_device).cpu().numpy()
    # Fancy indexing on a memmap reads only these rows from disk.
    window = starts[:, None] + np.arange(context_length + 1)[None, :]
    rows = torch.from_numpy(np.asarray(dataset[window], dtype=np.int64))
    device = torch.device(device)
    x = rows[:, :-1].contiguous()
    y = rows[:, 1:].contiguous()
    return x.to(device), y.to(device)


def train_step(model: nn.Module, optimizer, x: Tensor, y: Tensor, loss_fn, autocast_dtype: torch.dtype | None = None) -> float:
    optimizer.zero_grad(set_to_none=True)
    if autocast_dtype is None:
        ctx = contextlib.nullcontext()
    else:
        ctx = torch.autocast(device_type=x.device.type, dtype=autocast_dtype)
    with ctx:
        pred = model(x)
        loss = loss_fn(pred, y)
    loss.backward()
    optimizer.step()
    return float(loss.detach().float().item())


def _rng_snapshot() -> dict:
    np_state = np.random.get_state()
    return {
        "torch_cpu": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np.asarray(np_state[1]).astype(np.int64)), *np_state[2:]),
    }


def _rng_restore(snap: dict) -> None:
    torch.set_rng_state(snap["torch_cpu"])
    random.setstate(snap["python"])
    kind, keys, *rest = snap["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))


def save_checkpoint(model: nn.Module, optimizer, iteration: int, out: str | os.PathLike | BinaryIO) -> None:
    blob = {
        "format": _CKPT_VERSION,
        "resume_at": int(iteration),
        "module_tensors": model.state_dict(),
        "optim_blob": optimizer.state_dict(),
        "rng": _rng_snapshot(),
    }
    torch.save(blob, out)


def load_checkpoint(src, model: nn.Module, optimizer) -> int:
    blob = torch.load(src, map_location="cpu", weights_only=True)
    if blob.get("format") != _CKPT_VERSION:
        raise ValueError("not a checkpoint written by this save_checkpoint")
    model.load_state_dict(blob["module_tensors"])
    optimizer.load_state_dict(blob["optim_blob"])
    if "rng" in blob:
        _rng_restore(blob["rng"])
    return int(blob["resume_at"])


def train(
    model: nn.Module,
    optimizer,
    batch_fn: Callable[[int], tuple[Tensor, Tensor]],
    loss_fn,
    num_steps: int,
    *,
    start_step: int = 0,
    checkpoint_path=None,
    checkpoint_every: int = 0,
) -> list[float]:
    history: list[float] = []
    saving = checkpoint_path is not None and checkpoint_every > 0
    step = start_step
    while step < num_steps:
        x, y = batch_fn(step)
        history.append(train_step(model, optimizer, x, y, loss_fn))
        step += 1
        if saving and step % checkpoint_every == 0:
            save_checkpoint(model, optimizer, step, checkpoint_path)
    return history
