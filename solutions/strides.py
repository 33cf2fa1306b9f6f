"""Problem 2 (reference): strides, views and storage.

A tensor is a storage (a flat buffer) plus metadata: shape, strides and a storage
offset. Element [i0, i1, ...] lives at offset + i0*s0 + i1*s1 + ... in the storage.
Views change only the metadata, which is why they are free.
"""

from typing import Sequence

from jaxtyping import Shaped
from torch import Tensor

Shape = Sequence[int]
Strides = Sequence[int]


def _check_sizes(shape: Shape) -> None:
    if any(size < 0 for size in shape):
        raise ValueError(f"negative size in shape {tuple(shape)}")


def _check_layout(shape: Shape, strides: Strides) -> None:
    _check_sizes(shape)
    if len(shape) != len(strides):
        raise ValueError(f"shape {tuple(shape)} and strides {tuple(strides)} differ in length")


def _wrap_dim(dim: int, ndim: int) -> int:
    # PyTorch lets a 0-d tensor use dims 0 and -1, as if it had one dim.
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"dim {dim} out of range for a tensor with {ndim} dims")
    return dim % rank


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    _check_sizes(shape)
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)  # PyTorch: a size-0 dim counts as 1 here
    return tuple(reversed(strides))


def flat_offset(index: Sequence[int], strides: Strides, storage_offset: int = 0) -> int:
    if len(index) != len(strides):
        raise ValueError(f"index {tuple(index)} and strides {tuple(strides)} differ in length")
    return storage_offset + sum(i * s for i, s in zip(index, strides))


def is_contiguous(shape: Shape, strides: Strides) -> bool:
    _check_layout(shape, strides)
    if 0 in shape:
        return True  # an empty tensor touches no memory, so any layout is fine
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue  # a size-1 dim is never stepped along: its stride is irrelevant
        if stride != expected:
            return False
        expected *= size
    return True


def transpose(shape: Shape, strides: Strides, dim0: int, dim1: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    _check_layout(shape, strides)
    shape, strides = list(shape), list(strides)
    d0, d1 = _wrap_dim(dim0, len(shape)), _wrap_dim(dim1, len(shape))
    if shape:  # a 0-d tensor has nothing to swap: transpose(0, -1) is a no-op
        shape[d0], shape[d1] = shape[d1], shape[d0]
        strides[d0], strides[d1] = strides[d1], strides[d0]
    return tuple(shape), tuple(strides)


def narrow(
    shape: Shape, strides: Strides, storage_offset: int, dim: int, start: int, length: int
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    _check_layout(shape, strides)
    if not shape:
        raise ValueError("narrow() cannot be applied to a 0-d tensor")
    d = _wrap_dim(dim, len(shape))
    size = shape[d]
    if not -size <= start <= size:
        raise IndexError(f"start {start} out of range for a dim of size {size}")
    start = start % size if start < 0 else start
    if length < 0 or start + length > size:
        raise ValueError(f"start {start} + length {length} does not fit in size {size}")
    new_shape = list(shape)
    new_shape[d] = length
    # Same strides; the view just begins `start` steps further along dim d.
    return tuple(new_shape), tuple(strides), storage_offset + start * strides[d]


def _infer_size(new_shape: Shape, numel: int) -> list[int]:
    """Resolve one -1 in new_shape, as torch's infer_size does."""
    new_shape = list(new_shape)
    if new_shape.count(-1) > 1:
        raise ValueError("only one dimension can be inferred (-1)")
    if any(size < -1 for size in new_shape):
        raise ValueError(f"invalid size in shape {tuple(new_shape)}")
    known = 1
    for size in new_shape:
        if size != -1:
            known *= size
    if -1 in new_shape:
        # With 0 known elements, any value fits the -1: ambiguous, so PyTorch refuses.
        if known == 0 or numel % known != 0:
            raise ValueError(f"cannot view {numel} elements as shape {tuple(new_shape)}")
        new_shape[new_shape.index(-1)] = numel // known
    elif known != numel:
        raise ValueError(f"cannot view {numel} elements as shape {tuple(new_shape)}")
    return new_shape


def view(shape: Shape, strides: Strides, new_shape: Shape) -> tuple[int, ...] | None:
    _check_layout(shape, strides)
    numel = 1
    for size in shape:
        numel *= size
    new_shape = _infer_size(new_shape, numel)
    if not shape:  # a single element: every dim of the view has stride 1
        return (1,) * len(new_shape)
    if numel == 0:
        # No memory is touched: keep the strides if nothing changes, else use the
        # contiguous strides of the new shape (what PyTorch and NumPy do).
        return tuple(strides) if tuple(shape) == tuple(new_shape) else contiguous_strides(new_shape)
    # Split the old dims into chunks that are contiguous among themselves (each
    # stride = next size * next stride, size-1 dims ignored). A view may regroup dims
    # inside a chunk, never across: the new dims must cover each chunk exactly.
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base_stride = strides[-1]  # stride of the innermost element of the current chunk
    chunk_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        chunk_numel *= shape[d]
        chunk_ends = d == 0 or (shape[d - 1] != 1 and strides[d - 1] != chunk_numel * base_stride)
        if not chunk_ends:
            continue
        # Hand out strides to new dims (and any size-1 dims) until the chunk is covered.
        while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
            new_strides[view_d] = view_numel * base_stride
            view_numel *= new_shape[view_d]
            view_d -= 1
        if view_numel != chunk_numel:
            return None  # a new dim would straddle two chunks: needs a copy
        if d > 0:
            base_stride, chunk_numel, view_numel = strides[d - 1], 1, 1
    return tuple(new_strides) if view_d == -1 else None


def shares_storage(a: Shaped[Tensor, "..."], b: Shaped[Tensor, "..."]) -> bool:
    # Views differ in offset, shape and strides, but point into the same storage;
    # compare the storage's start, not the tensors' first elements (a[1:] vs a).
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
