"""Problem 1 (reference): dtypes and tensor memory.

Every number here is derived from the bit layout of the format, never looked up in
torch.finfo: the point of the problem is to see where eps, max and tiny come from.
"""

import math
from typing import NamedTuple, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

Shape = Sequence[int]


class FloatFormat(NamedTuple):
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int


# (sign, exponent, mantissa) bits of each floating-point format we support.
_FLOAT_FORMATS = {
    torch.float64: FloatFormat(1, 11, 52),
    torch.float32: FloatFormat(1, 8, 23),
    torch.float16: FloatFormat(1, 5, 10),
    torch.bfloat16: FloatFormat(1, 8, 7),  # float32's range, far fewer mantissa bits
    torch.float8_e4m3fn: FloatFormat(1, 4, 3),
    torch.float8_e5m2: FloatFormat(1, 5, 2),
}

_INT_BYTES = {
    torch.int64: 8,
    torch.int32: 4,
    torch.int16: 2,
    torch.int8: 1,
    torch.uint8: 1,
    torch.bool: 1,  # a bool is stored in a whole byte, not a bit
}


def float_format(dtype: torch.dtype) -> FloatFormat:
    if dtype not in _FLOAT_FORMATS:
        raise ValueError(f"float_format: unsupported dtype {dtype}")
    return _FLOAT_FORMATS[dtype]


def bytes_per_element(dtype: torch.dtype) -> int:
    if dtype in _FLOAT_FORMATS:
        return sum(_FLOAT_FORMATS[dtype]) // 8
    if dtype in _INT_BYTES:
        return _INT_BYTES[dtype]
    raise ValueError(f"bytes_per_element: unsupported dtype {dtype}")


def tensor_num_bytes(shape: Shape, dtype: torch.dtype) -> int:
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor_num_bytes: negative size in shape {tuple(shape)}")
    # A 0-d tensor holds one element: math.prod(()) == 1.
    return math.prod(shape) * bytes_per_element(dtype)


def _bias(fmt: FloatFormat) -> int:
    # The stored exponent e means 2 ** (e - bias); bias centres the range on 1.0.
    return 2 ** (fmt.exponent_bits - 1) - 1


def machine_epsilon(dtype: torch.dtype) -> float:
    # The gap between 1.0 and the next float: one unit in the last mantissa bit.
    return 2.0 ** -float_format(dtype).mantissa_bits


def smallest_normal(dtype: torch.dtype) -> float:
    # Stored exponent 1 (0 is reserved for zero and subnormals), mantissa 1.000...
    return 2.0 ** (1 - _bias(float_format(dtype)))


def max_finite(dtype: torch.dtype) -> float:
    fmt = float_format(dtype)
    m = fmt.mantissa_bits
    if dtype == torch.float8_e4m3fn:
        # "fn" = finite, no infinities: the all-ones exponent still holds ordinary
        # numbers, and only the all-ones mantissa there is NaN. So the largest value
        # has the top exponent and mantissa 1.110: 1.75 * 2**8 = 448.
        top_exponent = 2**fmt.exponent_bits - 1 - _bias(fmt)
        return (2.0 - 2.0 ** (1 - m)) * 2.0**top_exponent
    # IEEE-style: the all-ones exponent is reserved for inf/NaN, so the top usable
    # exponent is one below it, with an all-ones mantissa 1.111...
    top_exponent = 2**fmt.exponent_bits - 2 - _bias(fmt)
    return (2.0 - 2.0**-m) * 2.0**top_exponent


def underflows_to_zero(value: float, dtype: torch.dtype) -> bool:
    if value == 0 or not math.isfinite(value):
        return False
    fmt = float_format(dtype)
    # The smallest positive (subnormal) value: exponent field 0, last mantissa bit set.
    smallest_subnormal = 2.0 ** (1 - _bias(fmt) - fmt.mantissa_bits)
    # Round to nearest: below half of it rounds to 0; exactly half is a tie, and
    # ties go to the even neighbour, which is 0 (mantissa ...0) rather than ...1.
    return abs(value) <= smallest_subnormal / 2


# fp8 training keeps one float32 scale per tensor: multiply by it before the cast so that
# the tensor's largest magnitude lands on the format's largest finite value.
_FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def fp8_scale(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> Float[Tensor, ""]:
    if dtype not in _FP8_DTYPES:
        raise ValueError(f"fp8_scale: {dtype} is not an fp8 dtype")
    amax = x.detach().abs().amax().float() if x.numel() else torch.zeros((), device=x.device)
    # An all-zero tensor needs no scaling (and must not divide by zero).
    return torch.where(amax > 0, max_finite(dtype) / amax, torch.ones_like(amax))


def quantize_fp8(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> tuple[Float[Tensor, "*shape"], Float[Tensor, ""]]:
    scale = fp8_scale(x, dtype)
    # amax * scale is the max up to one float32 rounding, which the cast rounds back to the max.
    return (x.float() * scale).to(dtype), scale


def dequantize_fp8(q: Float[Tensor, "*shape"], scale: Float[Tensor, ""]) -> Float[Tensor, "*shape"]:
    return q.float() / scale
