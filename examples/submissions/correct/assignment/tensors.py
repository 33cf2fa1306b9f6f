"""Problem 1: dtypes and tensor memory.

The float layouts come from the formats' definitions, not from PyTorch: IEEE 754's
binary64/32/16 and bfloat16 by their total and exponent widths, and the fp8 formats
by their names, which spell their layout (``e4m3``: 4 exponent bits, 3 mantissa
bits; ``fn``: finite, no infinities).  Every other constant is then computed from
(exponent_bits, mantissa_bits) with exact power-of-two arithmetic (``math.ldexp``),
never from ``torch.finfo``, ``itemsize`` or a cast.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import NamedTuple, Sequence

import torch

Shape = Sequence[int]


class FloatFormat(NamedTuple):
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int


_FLOATS = frozenset(
    {
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.float8_e4m3fn,
        torch.float8_e5m2,
    }
)

# (total bits, exponent bits) of the formats whose names do not spell their layout.
_IEEE_WIDTHS = {torch.float64: (64, 11), torch.float32: (32, 8), torch.float16: (16, 5), torch.bfloat16: (16, 8)}
_INT_BITS = {torch.int64: 64, torch.int32: 32, torch.int16: 16, torch.int8: 8, torch.uint8: 8, torch.bool: 8}


def _need_float(dtype: torch.dtype) -> None:
    if dtype not in _FLOATS:
        raise ValueError(f"unsupported floating-point dtype: {dtype!r}")


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@lru_cache(maxsize=None)
def float_format(dtype: torch.dtype) -> FloatFormat:
    _need_float(dtype)
    if dtype in _IEEE_WIDTHS:
        total_bits, exponent = _IEEE_WIDTHS[dtype]
        return FloatFormat(1, exponent, total_bits - 1 - exponent)
    layout = re.fullmatch(r"float8_e(\d+)m(\d+)\w*", _name(dtype))
    return FloatFormat(1, int(layout[1]), int(layout[2]))


def _has_infinity(dtype: torch.dtype) -> bool:
    # The "fn" float8 formats are finite: no infinity, the all-ones exponent holds numbers.
    return not _name(dtype).endswith(("fn", "fnuz"))


def _bias(dtype: torch.dtype) -> int:
    return (1 << (float_format(dtype).exponent_bits - 1)) - 1


def bytes_per_element(dtype: torch.dtype) -> int:
    if dtype in _FLOATS:
        return sum(float_format(dtype)) // 8
    if dtype in _INT_BITS:
        return _INT_BITS[dtype] // 8  # a bool takes a whole byte
    raise ValueError(f"unsupported dtype: {dtype!r}")


def tensor_num_bytes(shape: Shape, dtype: torch.dtype) -> int:
    width = bytes_per_element(dtype)
    count = 1
    for size in shape:
        size = int(size)
        if size < 0:
            raise ValueError(f"negative size in shape {tuple(shape)}")
        count *= size
    return count * width


def machine_epsilon(dtype: torch.dtype) -> float:
    return math.ldexp(1.0, -float_format(dtype).mantissa_bits)


def smallest_normal(dtype: torch.dtype) -> float:
    return math.ldexp(1.0, 1 - _bias(dtype))


def max_finite(dtype: torch.dtype) -> float:
    fmt = float_format(dtype)
    m, bias = fmt.mantissa_bits, _bias(dtype)
    if _has_infinity(dtype):
        # Exponent field all-ones is reserved for inf/NaN.
        top_field, top_mantissa = (1 << fmt.exponent_bits) - 2, (1 << m) - 1
    else:
        # Only exponent-all-ones *and* mantissa-all-ones is NaN.
        top_field, top_mantissa = (1 << fmt.exponent_bits) - 1, (1 << m) - 2
    significand = (1 << m) + top_mantissa  # an integer, scaled by 2**-m
    return math.ldexp(float(significand), top_field - bias - m)


def _smallest_subnormal(dtype: torch.dtype) -> float:
    return math.ldexp(1.0, 1 - _bias(dtype) - float_format(dtype).mantissa_bits)


def underflows_to_zero(value: float, dtype) -> bool:
    _need_float(dtype)
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return False
    # Anything up to half the smallest subnormal rounds to zero; the exact half
    # is a tie and goes to the even neighbour, which is zero.
    return abs(value) <= _smallest_subnormal(dtype) / 2


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
