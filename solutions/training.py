"""Data loading, the training step and loop, and checkpoints (reference solution, problem 8)."""

import os
import random
from typing import BinaryIO, Callable

import numpy as np
import numpy.typing as npt
import torch
from jaxtyping import Int
from torch import Tensor, nn


def set_seed(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and PyTorch (every device)."""
    if not 0 <= seed < 2**32:  # NumPy's legacy seeding takes 32-bit seeds only
        raise ValueError(f"seed must satisfy 0 <= seed < 2**32, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_batch(
    dataset: npt.NDArray,
    batch_size: int,
    context_length: int,
    device: str | torch.device,
    generator: torch.Generator | None = None,
) -> tuple[Int[Tensor, "batch seq"], Int[Tensor, "batch seq"]]:
    """Random windows of `dataset`: inputs and the next-token targets, on `device`."""
    if batch_size <= 0 or context_length <= 0:
        raise ValueError(f"sizes must be positive, got batch_size={batch_size}, context_length={context_length}")
    num_starts = len(dataset) - context_length  # valid starts: 0 .. len - context_length - 1
    if num_starts <= 0:
        raise ValueError(f"a dataset of {len(dataset)} tokens is too short for context_length={context_length}")
    # Draw the starts on the CPU: they index a NumPy array (maybe a memmap) on the host.
    starts = torch.randint(0, num_starts, (batch_size,), generator=generator)
    # Slice one window at a time so that a memmap reads only those pages, never the whole file.
    windows = np.stack([np.asarray(dataset[s : s + context_length + 1]) for s in starts.tolist()])
    windows = torch.from_numpy(windows.astype(np.int64)).to(device)
    return windows[:, :-1], windows[:, 1:]


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    autocast_dtype: torch.dtype | None = None,
) -> float:
    """One step: zero the gradients, forward and loss (under autocast if asked), backward, update."""
    optimizer.zero_grad(set_to_none=True)
    # Autocast runs eligible ops in the low-precision dtype; the parameters stay float32.
    with torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        loss = loss_fn(model(x), y)
    loss.backward()  # outside autocast, as PyTorch recommends
    optimizer.step()
    return loss.item()


def save_checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    iteration: int,
    out: str | os.PathLike | BinaryIO,
) -> None:
    """Save everything a resumed run needs: weights, optimizer state, the next step."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "iteration": iteration}
    torch.save(state, out)


def load_checkpoint(
    src: str | os.PathLike | BinaryIO,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> int:
    """Restore `model` and `optimizer` in place; return the saved iteration."""
    state = torch.load(src, weights_only=True)  # data only: never unpickle code
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["iteration"]


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_fn: Callable[[int], tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    num_steps: int,
    *,
    start_step: int = 0,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
) -> list[float]:
    """Run steps `start_step .. num_steps - 1`, checkpointing every `checkpoint_every` steps."""
    losses = []
    for step in range(start_step, num_steps):
        x, y = batch_fn(step)
        losses.append(train_step(model, optimizer, x, y, loss_fn))
        if checkpoint_path is not None and checkpoint_every > 0 and (step + 1) % checkpoint_every == 0:
            save_checkpoint(model, optimizer, step + 1, checkpoint_path)  # step + 1 runs next
    return losses
