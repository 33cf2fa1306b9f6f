"""Problem 2: strides, views and storage, following PyTorch's own rules."""

from __future__ import annotations

from typing import Sequence

import torch

Shape = Sequence[int]
Strides = Sequence[int]


def _ints(seq) -> tuple[int, ...]:
    return tuple(int(v) for v in seq)


def _check_layout(shape: Shape, strides: Strides) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape, strides = _ints(shape), _ints(strides)
    if len(shape) != len(strides):
        raise ValueError(f"shape {shape} and strides {strides} differ in length")
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {shape}")
    return shape, strides


def _wrap_dim(dim: int, ndim: int) -> int:
    # PyTorch treats a 0-dim tensor as having one dim for wrapping purposes.
    span = max(ndim, 1)
    if not -span <= dim < span:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-span}, {span - 1}], but got {dim})"
        )
    return dim % span


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    shape = _ints(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {shape}")
    out = []
    running = 1
    for size in reversed(shape):
        out.append(running)
        running *= size if size > 1 else 1
    return tuple(reversed(out))


def flat_offset(index: Sequence[int], strides: Strides, storage_offset: int = 0) -> int:
    index, strides = _ints(index), _ints(strides)
    if len(index) != len(strides):
        raise ValueError("index and strides differ in length")
    if any(i < 0 for i in index):
        raise ValueError(f"negative index {index}")
    return int(storage_offset) + sum(i * s for i, s in zip(index, strides))


def is_contiguous(shape: Shape, strides: Strides) -> bool:
    shape, strides = _check_layout(shape, strides)
    if 0 in shape:
        return True
    expected = 1
    for size, stride in reversed(list(zip(shape, strides))):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def transpose(shape: Shape, strides: Strides, dim0: int, dim1: int):
    shape, strides = _check_layout(shape, strides)
    ndim = len(shape)
    a, b = _wrap_dim(int(dim0), ndim), _wrap_dim(int(dim1), ndim)
    if ndim == 0:
        return (), ()
    order = list(range(ndim))
    order[a], order[b] = order[b], order[a]
    return tuple(shape[i] for i in order), tuple(strides[i] for i in order)


def narrow(shape: Shape, strides: Strides, storage_offset: int, dim: int, start: int, length: int):
    shape, strides = _check_layout(shape, strides)
    start, length = int(start), int(length)
    # Checks in PyTorch's order, so the same bad call raises the same kind of error.
    if len(shape) == 0:
        raise ValueError("narrow() cannot be applied to a 0-dim tensor")
    if length < 0:
        raise ValueError("narrow(): length must be non-negative")
    d = _wrap_dim(int(dim), len(shape))
    size = shape[d]
    if not -size <= start <= size:  # PyTorch wraps start like a dim: IndexError
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise ValueError(f"start ({start}) + length ({length}) exceeds dimension size ({size})")
    new_shape = shape[:d] + (length,) + shape[d + 1 :]
    return new_shape, strides, int(storage_offset) + start * strides[d]


def _resolve_shape(new_shape: Shape, numel: int) -> tuple[int, ...]:
    new_shape = _ints(new_shape)
    holes = [i for i, s in enumerate(new_shape) if s == -1]
    if len(holes) > 1:
        raise ValueError("only one dimension can be inferred")
    if any(s < -1 for s in new_shape):
        raise ValueError(f"invalid shape dimension in {new_shape}")
    known = 1
    for s in new_shape:
        if s != -1:
            known *= s
    if not holes:
        if known != numel:
            raise ValueError(f"shape {new_shape} is invalid for input of size {numel}")
        return new_shape
    if known == 0 or numel % known != 0:
        raise ValueError(f"shape {new_shape} is invalid for input of size {numel}")
    filled = list(new_shape)
    filled[holes[0]] = numel // known
    return tuple(filled)


def view(shape: Shape, strides: Strides, new_shape: Shape) -> tuple[int, ...] | None:
    shape, strides = _check_layout(shape, strides)
    numel = 1
    for s in shape:
        numel *= s
    target = _resolve_shape(new_shape, numel)

    if not shape:  # a 0-dim tensor: every dim of the view gets stride 1
        return (1,) * len(target)
    if numel == 0:
        return strides if target == shape else contiguous_strides(target)

    # 1. Cut the old layout into "blocks" of dims that walk memory as a single
    #    run, right to left.  A size-1 dim never starts a block; the rightmost
    #    block's base stride is the last dim's stride, whatever its size.
    #    Each block is (element count, base stride).
    blocks: list[tuple[int, int]] = []
    count, base = 1, strides[-1]
    for d in range(len(shape) - 1, -1, -1):
        count *= shape[d]
        if d > 0 and shape[d - 1] != 1 and strides[d - 1] != count * base:
            blocks.append((count, base))
            count, base = 1, strides[d - 1]
    blocks.append((count, base))

    # 2. Cumulative element counts at block edges, from the right.
    edges = []
    acc = 1
    for c, _ in blocks:
        acc *= c
        edges.append(acc)

    # 3. Place every non-1 dim of the view in the first block whose edge lies
    #    above the elements to its right; it must not straddle that edge.
    #    A size-1 dim joins the block of the nearest non-1 dim to its right
    #    (block 0 if there is none); its stride, like any other, is the
    #    block's base times the count to its right inside the block.
    result = [0] * len(target)
    right = 1  # product of the view's sizes to the right of position j
    block = 0
    for j in range(len(target) - 1, -1, -1):
        size = target[j]
        if size != 1:
            while edges[block] <= right:
                block += 1
            if right * size > edges[block]:
                return None
        inner = right // (edges[block - 1] if block else 1)
        result[j] = blocks[block][1] * inner
        right *= size
    return tuple(result)


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    sa, sb = a.untyped_storage(), b.untyped_storage()
    return sa.device == sb.device and sa.data_ptr() == sb.data_ptr()
