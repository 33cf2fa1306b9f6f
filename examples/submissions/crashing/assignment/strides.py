# DO NOT import outside the grader sandbox: view() segfaults the interpreter and
# transpose() never returns.
"""Problem 2: strides, views and storage -- a submission whose code crashes and hangs."""

from __future__ import annotations

import ctypes
from typing import Sequence

import torch


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(int(size), 1)
    return tuple(reversed(strides))


def flat_offset(index: Sequence[int], strides: Sequence[int], storage_offset: int = 0) -> int:
    if len(index) != len(strides):
        raise ValueError("index and strides differ in length")
    return int(storage_offset) + sum(int(i) * int(s) for i, s in zip(index, strides))


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    if any(int(size) == 0 for size in shape):
        return True
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if int(size) != 1 and int(stride) != expected:
            return False
        expected *= int(size)
    return True


def transpose(shape, strides, dim0: int, dim1: int):
    # "Debugging" loop left in by accident: never terminates.
    order = list(range(len(shape)))
    while order:
        order.append(order.pop(0))


def narrow(shape, strides, storage_offset: int, dim: int, start: int, length: int):
    shape, strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)
    if not -len(shape) <= dim < len(shape):
        raise IndexError(f"dim {dim} out of range")
    dim %= len(shape)
    if start < 0:
        start += shape[dim]
    if not (0 <= start and length >= 0 and start + length <= shape[dim]):
        raise ValueError("narrow out of range")
    new_shape = shape[:dim] + (int(length),) + shape[dim + 1 :]
    return new_shape, strides, int(storage_offset) + start * strides[dim]


def view(shape, strides, new_shape):
    # Reads through a NULL pointer: the process dies by SIGSEGV.
    return ctypes.string_at(0)


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
