"""Problem 1, handed to PyTorch: every number comes from torch.finfo, itemsize or a cast (test data: delegating)."""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

Shape = Sequence[int]


class FloatFormat(NamedTuple):
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int


_FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2)
_OTHERS = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)


def _need_float(dtype: torch.dtype) -> None:
    if dtype not in _FLOATS:
        raise ValueError(f"unsupported floating-point dtype: {dtype!r}")


def float_format(dtype: torch.dtype) -> FloatFormat:
    _need_float(dtype)
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))
    return FloatFormat(1, info.bits - 1 - mantissa, mantissa)


def bytes_per_element(dtype: torch.dtype) -> int:
    if dtype not in _FLOATS and dtype not in _OTHERS:
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


# --- fp8 with one scale per tensor -------------------------------------------------

from jaxtyping import Float  # noqa: E402
from torch import Tensor  # noqa: E402


def fp8_scale(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> Float[Tensor, ""]:
    if dtype not in (torch.float8_e4m3fn, torch.float8_e5m2):
        raise ValueError(f"not an fp8 dtype: {dtype}")
    largest = float(x.abs().max()) if x.numel() > 0 else 0.0
    ratio = max_finite(dtype) / largest if largest != 0.0 else 1.0  # computed in float64
    return torch.tensor(ratio, dtype=torch.float32, device=x.device)


def quantize_fp8(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> tuple[Float[Tensor, "*shape"], Float[Tensor, ""]]:
    scale = fp8_scale(x, dtype)
    limit = max_finite(dtype)
    return torch.clamp(x.to(torch.float32) * scale, -limit, limit).to(dtype), scale


def dequantize_fp8(q: Float[Tensor, "*shape"], scale: Float[Tensor, ""]) -> Float[Tensor, "*shape"]:
    return q.to(torch.float32) * scale.reciprocal()
