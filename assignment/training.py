"""Problem 8: loading data, the training step and loop, and checkpoints.

These are the pieces every training script has: make runs repeatable (set_seed), sample
batches from a token array that may be far larger than memory (get_batch), take one
optimizer step, possibly in bfloat16 (train_step), and save and resume a run exactly
(save_checkpoint, load_checkpoint, train).
"""

import os
import random  # noqa: F401  (you will need these)
from typing import BinaryIO, Callable

import numpy as np  # noqa: F401
import numpy.typing as npt
import torch
from jaxtyping import Int
from torch import Tensor, nn


def set_seed(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and PyTorch (CPU and every GPU).

    After set_seed(s), the next draws of all three are the same every time. Seeds must
    satisfy 0 <= seed < 2**32 (NumPy's limit); otherwise raise ValueError.
    """
    raise NotImplementedError("Problem 8 (training.set_seed): check the range, then seed all three libraries")


def get_batch(
    dataset: npt.NDArray,
    batch_size: int,
    context_length: int,
    device: str | torch.device,
    generator: torch.Generator | None = None,
) -> tuple[Int[Tensor, "batch seq"], Int[Tensor, "batch seq"]]:
    """Sample `batch_size` random windows of `dataset` (a 1-D array of token ids).

    Row i of the inputs is dataset[s : s + context_length] for a start s drawn uniformly
    from every valid start 0 .. len(dataset) - context_length - 1, and row i of the targets
    is the same window moved one token on, dataset[s + 1 : s + context_length + 1].
    Example: dataset = [10, 11, 12, 13, 14], context_length 3: starts 0 and 1 are valid;
    start 1 gives x = [11, 12, 13], y = [12, 13, 14].

    Return two int64 (LongTensor) tensors of shape (batch_size, context_length) on `device`.
    Draw the starts with `generator` when one is given (a CPU torch.Generator), so that a
    seeded generator gives a reproducible batch.

    `dataset` may be an np.memmap far larger than memory: touch only the windows you
    need (slicing a memmap reads just those pages); never convert the whole array. The
    tests measure the bytes your call copies (NumPy, Python and torch allocations), on
    every OS alike: a whole-file copy fails, a few windows pass.
    A dataset shorter than context_length + 1, or a size <= 0: raise ValueError.
    """
    raise NotImplementedError("Problem 8 (training.get_batch): draw starts, slice windows, stack, move to device")


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    autocast_dtype: torch.dtype | None = None,
) -> float:
    """One optimizer step on the batch (x, y); return the loss as a Python float.

    Zero the gradients, compute loss_fn(model(x), y), backpropagate, step the optimizer.
    With `autocast_dtype` (e.g. torch.bfloat16), run the forward pass and the loss under
    torch.autocast for x's device type: matmuls then run in bfloat16 while the
    parameters, their gradients and the optimizer state stay float32 (mixed precision).
    Do not convert the model itself.
    """
    raise NotImplementedError("Problem 8 (training.train_step): zero_grad, forward, backward, step")


def save_checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    iteration: int,
    out: str | os.PathLike | BinaryIO,
) -> None:
    """Save what a resumed run needs: the model's weights, the optimizer's state (AdamW's
    moments!) and `iteration`. `out` is a path or an open binary file; the format is yours
    (torch.save of the state_dicts is the usual choice)."""
    raise NotImplementedError("Problem 8 (training.save_checkpoint): save model, optimizer and iteration")


def load_checkpoint(
    src: str | os.PathLike | BinaryIO,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> int:
    """Restore `model` and `optimizer` in place from a checkpoint written by save_checkpoint
    and return the iteration it saved."""
    raise NotImplementedError("Problem 8 (training.load_checkpoint): load both state dicts, return the iteration")


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
    """Run steps start_step .. num_steps - 1 (batch_fn(step) gives each step's batch) and
    return their losses.

    With a checkpoint_path and checkpoint_every > 0, after step s with
    (s + 1) % checkpoint_every == 0, save a checkpoint whose iteration is s + 1: the next
    step to run. Example: checkpoint_every=3 over 8 steps saves after steps 2 and 5
    (iterations 3 and 6). Loading that checkpoint and calling
    train(..., start_step=iteration) must give exactly the losses of an uninterrupted run.
    """
    raise NotImplementedError("Problem 8 (training.train): loop over steps, checkpoint on schedule")
