"""Problem 2: strides, views and storage.

A tensor is a flat storage plus metadata: a shape, strides and a storage offset.
Element [i0, i1, ...] lives at storage_offset + i0*stride0 + i1*stride1 + ... in the
storage. Transposing, slicing and (often) reshaping only change the metadata -- that
is a *view*, and it costs no memory and no copying. Here you compute that metadata
yourself, exactly as PyTorch does (the tests compare with real tensors).

Errors, as PyTorch: a dim out of range raises IndexError; other invalid arguments
(shape and strides of different lengths, a negative size, ...) raise ValueError.
Return plain tuples of Python ints.
"""

from typing import Sequence

from jaxtyping import Shaped
from torch import Tensor

Shape = Sequence[int]
Strides = Sequence[int]


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    """The strides of a fresh row-major (C-order) tensor of `shape`.

    The last dim has stride 1; each earlier dim's stride is the product of the sizes
    after it. (4, 5) -> (5, 1): moving one row skips 5 elements. PyTorch treats a
    size-0 dim as size 1 in that product: (2, 0, 3) -> (3, 3, 1).
    """
    raise NotImplementedError("Problem 2 (strides.contiguous_strides): compute row-major strides as PyTorch does")


def flat_offset(index: Sequence[int], strides: Strides, storage_offset: int = 0) -> int:
    """Where element `index` (non-negative indices) lives in the storage.

    Example: index (1, 2) with strides (5, 1) and offset 3 -> 3 + 1*5 + 2*1 = 10.
    `index` and `strides` of different lengths: raise ValueError.
    """
    raise NotImplementedError("Problem 2 (strides.flat_offset): add up index times stride, plus the offset")


def is_contiguous(shape: Shape, strides: Strides) -> bool:
    """Whether the layout is row-major contiguous, by PyTorch's rule (Tensor.is_contiguous()).

    A layout is contiguous when its strides are the row-major ones -- except that a
    dim of size 1 is never stepped along, so its stride does not matter, and a tensor
    with no elements is always contiguous.
    Example: (3, 1, 4) with strides (4, 99, 1) -> True; (4, 3) with (1, 4) (a transpose) -> False.
    """
    raise NotImplementedError("Problem 2 (strides.is_contiguous): apply PyTorch's contiguity rule")


def transpose(shape: Shape, strides: Strides, dim0: int, dim1: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shape and strides of Tensor.transpose(dim0, dim1): a view, nothing moves.

    Negative dims count from the end, as in PyTorch (-1 is the last dim).
    Example: (2, 3) with strides (3, 1), dims 0 and -1 -> ((3, 2), (1, 3)).
    A 0-d tensor (shape ()) accepts dims 0 and -1, as if it had one dim: a no-op.
    A dim out of range: raise IndexError.
    """
    raise NotImplementedError("Problem 2 (strides.transpose): swap two dims' sizes and strides")


def narrow(
    shape: Shape, strides: Strides, storage_offset: int, dim: int, start: int, length: int
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Shape, strides and storage offset of Tensor.narrow(dim, start, length) -- x[..., start:start+length, ...].

    A view again: the strides stay, the size along `dim` becomes `length`, and the
    view begins `start` steps further along `dim`.
    Example: (4, 5) with strides (5, 1), offset 0, narrow(1, 2, 3) -> ((4, 3), (5, 1), 2).
    As in PyTorch, `dim` and `start` may be negative (counted from the end).
    A dim out of range, or a start outside [-size, size]: IndexError, as in PyTorch; a length
    that is negative or runs past the end: ValueError. A 0-d tensor cannot be narrowed
    (PyTorch raises RuntimeError, "cannot be applied to a 0-dim tensor"): ValueError.
    """
    raise NotImplementedError("Problem 2 (strides.narrow): compute the narrowed view's metadata")


def view(shape: Shape, strides: Strides, new_shape: Shape) -> tuple[int, ...] | None:
    """The strides Tensor.view(new_shape) would give, or None where PyTorch refuses the view.

    A view re-reads the same storage with a new shape, so it exists only when every
    new dim can be stepped with a single stride. Split the old dims into chunks that
    are contiguous among themselves (each stride equals the next dim's size times
    its stride). A dim of size 1 is never stepped along, so it never breaks a chunk.
    The new dims may regroup the elements inside a chunk but may not straddle two chunks.

    Example: a contiguous (4, 5) with strides (5, 1) viewed as (2, 10) -> (10, 1).
    Its transpose, (5, 4) with strides (1, 5), viewed as (20,) -> None (copy needed).
    What is graded is the addressing: every element of the view must be read from the
    place Tensor.view reads it. So a new dim of size 1 may take any stride (PyTorch's,
    0, anything: it never moves an address); every other dim must have PyTorch's stride.
    An empty or 0-d tensor follows PyTorch too (try it).
    `new_shape` may hold one -1, inferred from the element count. Element counts
    that cannot match (including a -1 that does not divide, or more than one -1): ValueError.
    """
    raise NotImplementedError("Problem 2 (strides.view): compute the strides of the view, or None if a copy is needed")


def shares_storage(a: Shaped[Tensor, "..."], b: Shaped[Tensor, "..."]) -> bool:
    """Whether two non-empty tensors are views of one storage.

    Views start at different places (x and x[2:]) and may touch no element in common
    (x[:2] and x[2:]) yet still share the storage; a clone never does. Tensor
    .untyped_storage() is the buffer behind a tensor.
    """
    raise NotImplementedError("Problem 2 (strides.shares_storage): compare the tensors' storages")
