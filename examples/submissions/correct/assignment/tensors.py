"""Problem 1: dtypes and tensor memory.

The float layouts come from the formats' definitions, not from PyTorch: IEEE 754's
binary64/32/16 and bfloat16 by their total and exponent widths, and the fp8 formats
by their names, which spell their layout (``e4m3``: 4 exponent bits, 3 mantissa
bits; ``fn``: finite, no infinities).  Every other constant is then computed from
(exponent_bits, mantissa_bits) with exact power-of-two arithmetic (``math.ldexp``),
never from ``torch.finfo``, ``itemsize`` or a cast (the own-work rules).  A
FloatFormat given instead of a dtype goes through the same arithmetic, its
``specials`` saying which patterns are not numbers.
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
    specials: str = "ieee"  # or "nan_only" (e4m3fn), or "none" (OCP MX fp4/fp6)


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


def float_format(dtype) -> FloatFormat:
    if isinstance(dtype, torch.dtype):
        return _format_of(dtype)
    try:
        fmt = FloatFormat(dtype.sign_bits, dtype.exponent_bits, dtype.mantissa_bits, dtype.specials)
    except AttributeError:
        raise ValueError(f"not a dtype or a FloatFormat: {dtype!r}") from None
    if fmt.sign_bits != 1 or fmt.exponent_bits < 2 or fmt.mantissa_bits < 0 or fmt.specials not in ("ieee", "nan_only", "none"):
        raise ValueError(f"not a valid FloatFormat: {dtype!r}")
    return fmt


@lru_cache(maxsize=None)
def _format_of(dtype: torch.dtype) -> FloatFormat:
    _need_float(dtype)
    # The "fn" float8 formats are finite: no infinity, only the all-ones pattern is NaN.
    specials = "nan_only" if _name(dtype).endswith(("fn", "fnuz")) else "ieee"
    if dtype in _IEEE_WIDTHS:
        total_bits, exponent = _IEEE_WIDTHS[dtype]
        return FloatFormat(1, exponent, total_bits - 1 - exponent, specials)
    layout = re.fullmatch(r"float8_e(\d+)m(\d+)\w*", _name(dtype))
    return FloatFormat(1, int(layout[1]), int(layout[2]), specials)


def _bias(dtype) -> int:
    return (1 << (float_format(dtype).exponent_bits - 1)) - 1


def _width_in_bits(dtype) -> int:
    if isinstance(dtype, torch.dtype):
        if dtype in _INT_BITS:
            return _INT_BITS[dtype]  # a bool takes a whole byte
        _need_float(dtype)
    fmt = float_format(dtype)
    return fmt.sign_bits + fmt.exponent_bits + fmt.mantissa_bits


def bytes_per_element(dtype) -> int:
    bits = _width_in_bits(dtype)
    if bits % 8 != 0:
        raise ValueError(f"{bits}-bit elements do not fill whole bytes")
    return bits // 8


def tensor_num_bytes(shape: Shape, dtype) -> int:
    width = _width_in_bits(dtype)
    count = 1
    for size in shape:
        size = int(size)
        if size < 0:
            raise ValueError(f"negative size in shape {tuple(shape)}")
        count *= size
    return (count * width + 7) // 8  # sub-byte elements are packed; the last byte counts whole


def machine_epsilon(dtype: torch.dtype) -> float:
    return math.ldexp(1.0, -float_format(dtype).mantissa_bits)


def smallest_normal(dtype: torch.dtype) -> float:
    return math.ldexp(1.0, 1 - _bias(dtype))


def max_finite(dtype: torch.dtype) -> float:
    fmt = float_format(dtype)
    m, bias = fmt.mantissa_bits, _bias(dtype)
    if fmt.specials == "ieee" or (fmt.specials == "nan_only" and m == 0):
        # Exponent field all-ones is reserved for inf/NaN (with no mantissa bits, the
        # nan_only format's one all-ones pattern is its NaN).
        top_field, top_mantissa = (1 << fmt.exponent_bits) - 2, (1 << m) - 1
    elif fmt.specials == "nan_only":
        # Only exponent-all-ones *and* mantissa-all-ones is NaN.
        top_field, top_mantissa = (1 << fmt.exponent_bits) - 1, (1 << m) - 2
    else:
        # No specials at all: the all-ones pattern is the largest number.
        top_field, top_mantissa = (1 << fmt.exponent_bits) - 1, (1 << m) - 1
    significand = (1 << m) + top_mantissa  # an integer, scaled by 2**-m
    return math.ldexp(float(significand), top_field - bias - m)


def _smallest_subnormal(dtype: torch.dtype) -> float:
    return math.ldexp(1.0, 1 - _bias(dtype) - float_format(dtype).mantissa_bits)


def underflows_to_zero(value: float, dtype) -> bool:
    float_format(dtype)  # raises for what is not a float format
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
