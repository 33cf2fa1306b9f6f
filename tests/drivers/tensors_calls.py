"""Driver for problem 1: shapes in the forms code passes them (no oracle here).

A shape is a Sequence[int]: `x.shape` (a torch.Size), a list, a range. torch.Size and range
cannot cross the wire as themselves, so they are made here, next to the implementation.
"""

import torch


def num_bytes_of(impl, kind: str, sizes: list, dtype):
    """tensor_num_bytes(shape, dtype) with `shape` built as `kind`: "size" (torch.Size) or "range" (range(*sizes))."""
    shape = torch.Size(sizes) if kind == "size" else range(*sizes)
    return impl.tensors.tensor_num_bytes(shape, dtype)
