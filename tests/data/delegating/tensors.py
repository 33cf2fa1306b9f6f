# Appended to the correct example's module by grader/core/variants.py (build_delegating):
# Problem 1 handed to PyTorch: torch.finfo, dtype.itemsize, a meta tensor's element_size and a float64 cast.

import math

import torch


def float_format(dtype: torch.dtype) -> FloatFormat:
    _need_float(dtype)
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))
    return FloatFormat(1, info.bits - 1 - mantissa, mantissa)


def bytes_per_element(dtype: torch.dtype) -> int:
    if dtype not in _FLOATS and dtype not in _INT_BITS:
        raise ValueError(f"unsupported dtype: {dtype!r}")
    return dtype.itemsize


def tensor_num_bytes(shape: Shape, dtype: torch.dtype) -> int:
    if any(int(size) < 0 for size in shape):
        raise ValueError(f"negative size in shape {tuple(shape)}")
    return torch.empty(tuple(int(s) for s in shape), dtype=dtype, device="meta").element_size() * math.prod(int(s) for s in shape)


def machine_epsilon(dtype: torch.dtype) -> float:
    _need_float(dtype)
    return torch.finfo(dtype).eps


def smallest_normal(dtype: torch.dtype) -> float:
    _need_float(dtype)
    return torch.finfo(dtype).smallest_normal


def max_finite(dtype: torch.dtype) -> float:
    _need_float(dtype)
    return torch.finfo(dtype).max


def underflows_to_zero(value: float, dtype) -> bool:
    _need_float(dtype)
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return False
    return torch.tensor(value, dtype=torch.float64).to(dtype).item() == 0.0
