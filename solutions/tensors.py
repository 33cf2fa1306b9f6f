"""Problem 1 (reference): dtypes and tensor memory.

Every number here is derived from the bit layout of the format, never looked up in
torch.finfo: the point of the problem is to see where eps, max and tiny come from.
Each function takes a torch dtype or a FloatFormat, so it works for formats PyTorch
has no finfo for (the OCP MX fp4/fp6 element formats, or any made-up layout).
"""

import math
from typing import NamedTuple, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

Shape = Sequence[int]

# What a format does with the patterns of its all-ones exponent (FloatFormat.specials).
SPECIALS = ("ieee", "nan_only", "none")


class FloatFormat(NamedTuple):
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int
    # "ieee": the all-ones exponent is reserved (inf with mantissa 0, NaN otherwise);
    # "nan_only": no inf, and only the all-ones exponent with the all-ones mantissa is NaN;
    # "none": every pattern is a finite number (the OCP MX fp4/fp6 element formats).
    specials: str = "ieee"


# The layout of each floating-point dtype we support.
_FLOAT_FORMATS = {
    torch.float64: FloatFormat(1, 11, 52),
    torch.float32: FloatFormat(1, 8, 23),
    torch.float16: FloatFormat(1, 5, 10),
    torch.bfloat16: FloatFormat(1, 8, 7),  # float32's range, far fewer mantissa bits
    torch.float8_e4m3fn: FloatFormat(1, 4, 3, "nan_only"),  # "fn": finite, one NaN
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

Format = torch.dtype | FloatFormat


def float_format(dtype: Format) -> FloatFormat:
    if isinstance(dtype, torch.dtype):
        if dtype not in _FLOAT_FORMATS:
            raise ValueError(f"float_format: unsupported dtype {dtype}")
        return _FLOAT_FORMATS[dtype]
    return _valid_format(dtype)


def _valid_format(fmt) -> FloatFormat:
    """Our FloatFormat for any object with FloatFormat's fields, if it describes a valid format."""
    sign, exponent, mantissa = (getattr(fmt, name, None) for name in FloatFormat._fields[:3])
    specials = getattr(fmt, "specials", "ieee")
    if not all(type(n) is int for n in (sign, exponent, mantissa)):
        raise ValueError(f"float_format: neither a dtype nor a FloatFormat: {fmt!r}")
    # One sign bit; an exponent field with room for zero/subnormals, normals and a top code.
    if sign != 1 or exponent < 2 or mantissa < 0 or specials not in SPECIALS:
        raise ValueError(f"float_format: not a valid FloatFormat: {fmt!r}")
    return FloatFormat(sign, exponent, mantissa, specials)


def _bits_per_element(dtype: Format) -> int:
    if isinstance(dtype, torch.dtype):
        if dtype in _INT_BYTES:
            return 8 * _INT_BYTES[dtype]
        if dtype not in _FLOAT_FORMATS:
            raise ValueError(f"unsupported dtype {dtype}")
    fmt = float_format(dtype)
    return fmt.sign_bits + fmt.exponent_bits + fmt.mantissa_bits


def bytes_per_element(dtype: Format) -> int:
    bits = _bits_per_element(dtype)
    if bits % 8:  # fp4, fp6: elements are packed, several to a byte or across bytes
        raise ValueError(f"bytes_per_element: a {bits}-bit element is not a whole number of bytes")
    return bits // 8


def tensor_num_bytes(shape: Shape, dtype: Format) -> int:
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor_num_bytes: negative size in shape {tuple(shape)}")
    # A 0-d tensor holds one element: math.prod(()) == 1. Elements are packed bit to bit,
    # and the last byte is taken whole (only sub-byte formats leave part of it unused).
    return -(-math.prod(shape) * _bits_per_element(dtype) // 8)


def _bias(fmt: FloatFormat) -> int:
    # The stored exponent e means 2 ** (e - bias); bias centres the range on 1.0.
    return 2 ** (fmt.exponent_bits - 1) - 1


def machine_epsilon(dtype: Format) -> float:
    # The gap between 1.0 and the next float: one unit in the last mantissa bit.
    return 2.0 ** -float_format(dtype).mantissa_bits


def smallest_normal(dtype: Format) -> float:
    # Stored exponent 1 (0 is reserved for zero and subnormals), mantissa 1.000...
    return 2.0 ** (1 - _bias(float_format(dtype)))


def max_finite(dtype: Format) -> float:
    fmt = float_format(dtype)
    m = fmt.mantissa_bits
    top_field, top_mantissa = 2**fmt.exponent_bits - 1, 2**m - 1  # the all-ones pattern
    if fmt.specials == "ieee":
        # The all-ones exponent is reserved for inf/NaN: one exponent lower, mantissa 1.111...
        top_field -= 1
    elif fmt.specials == "nan_only":
        # Only the all-ones pattern is NaN, so the largest number is the one just below it:
        # the same exponent with mantissa 1.110 (e4m3fn: 1.75 * 2**8 = 448). Without
        # mantissa bits that pattern is the exponent's only one: one exponent lower.
        if m:
            top_mantissa -= 1
        else:
            top_field -= 1
    # "none": the all-ones pattern itself is the largest number.
    return math.ldexp(2**m + top_mantissa, top_field - _bias(fmt) - m)


def underflows_to_zero(value: float, dtype: Format) -> bool:
    fmt = float_format(dtype)
    if value == 0 or not math.isfinite(value):
        return False
    # The smallest positive value: exponent field 0, last mantissa bit set (with no mantissa
    # bits, the smallest normal; its code is 1 either way: odd).
    smallest_subnormal = 2.0 ** (1 - _bias(fmt) - fmt.mantissa_bits)
    # Round to nearest: below half of it rounds to 0; exactly half is a tie, and
    # ties go to the even neighbour, which is 0 (code ...0) rather than ...1.
    return abs(value) <= smallest_subnormal / 2


# fp8 training keeps one float32 scale per tensor: multiply by it before the cast so that
# the tensor's largest magnitude lands on the format's largest finite value.
_FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def fp8_scale(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> Float[Tensor, ""]:
    if dtype not in _FP8_DTYPES:
        raise ValueError(f"fp8_scale: {dtype} is not an fp8 dtype")
    # In float32 whatever x's dtype: |x| and its max are exact in x's dtype, the division
    # is not (in bfloat16 it could be off by a relative 2**-8, half its epsilon).
    amax = x.detach().abs().amax().float() if x.numel() else torch.zeros((), device=x.device)
    # An all-zero tensor needs no scaling (and must not divide by zero).
    return torch.where(amax > 0, max_finite(dtype) / amax, torch.ones_like(amax))


def quantize_fp8(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> tuple[Float[Tensor, "*shape"], Float[Tensor, ""]]:
    scale = fp8_scale(x, dtype)
    # amax * scale is the max up to one float32 rounding, which the cast rounds back to the
    # max on every PyTorch (older ones give NaN above 464, the midpoint past it; newer ones saturate at 448).
    return (x.float() * scale).to(dtype), scale


def dequantize_fp8(q: Float[Tensor, "*shape"], scale: Float[Tensor, ""]) -> Float[Tensor, "*shape"]:
    return q.float() / scale
