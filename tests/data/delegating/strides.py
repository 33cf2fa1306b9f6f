# Appended to the correct example's module by grader/core/variants.py (build_delegating):
# Problem 2 handed to PyTorch: every layout question is asked of a meta tensor.

import torch


def _layout(shape: Shape, strides: Strides, storage_offset: int = 0) -> torch.Tensor:
    shape, strides = tuple(int(s) for s in shape), tuple(int(s) for s in strides)
    if len(shape) != len(strides) or any(s < 0 for s in shape):
        raise ValueError(f"bad layout {shape} {strides}")
    return torch.empty(0, device="meta").as_strided(shape, strides, int(storage_offset))


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    if any(int(s) < 0 for s in shape):
        raise ValueError(f"negative size in shape {tuple(shape)}")
    return tuple(torch.empty(tuple(int(s) for s in shape), device="meta").stride())


def is_contiguous(shape: Shape, strides: Strides) -> bool:
    return _layout(shape, strides).is_contiguous()


def transpose(shape: Shape, strides: Strides, dim0: int, dim1: int):
    t = _layout(shape, strides).transpose(dim0, dim1)
    return tuple(t.shape), tuple(t.stride())


def narrow(shape: Shape, strides: Strides, storage_offset: int, dim: int, start: int, length: int):
    base = _layout(shape, strides, storage_offset)
    if base.dim() == 0:
        raise ValueError("narrow() cannot be applied to a 0-dim tensor")
    try:
        t = base.narrow(dim, start, length)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    return tuple(t.shape), tuple(t.stride()), t.storage_offset()


def view(shape: Shape, strides: Strides, new_shape: Shape) -> tuple[int, ...] | None:
    base = _layout(shape, strides)
    new_shape = tuple(int(s) for s in new_shape)
    try:
        torch.empty(base.shape, device="meta").view(new_shape)  # counts that cannot match
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    try:
        return tuple(base.view(new_shape).stride())
    except RuntimeError:
        return None
