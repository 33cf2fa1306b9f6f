"""Problem 1: dtypes and tensor memory (a short, correct version).

The constants come from each format's bit layout (sign, exponent, mantissa bits),
never from torch.finfo.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

Shape = Sequence[int]


class FloatFormat(NamedTuple):
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int


_FORMATS = {
    torch.float64: FloatFormat(1, 11, 52),
    torch.float32: FloatFormat(1, 8, 23),
    torch.float16: FloatFormat(1, 5, 10),
    torch.bfloat16: FloatFormat(1, 8, 7),
    torch.float8_e4m3fn: FloatFormat(1, 4, 3),
    torch.float8_e5m2: FloatFormat(1, 5, 2),
}
_BYTES = {
    torch.float64: 8, torch.float32: 4, torch.float16: 2, torch.bfloat16: 2,
    torch.float8_e4m3fn: 1, torch.float8_e5m2: 1,
    torch.int64: 8, torch.int32: 4, torch.int16: 2, torch.int8: 1, torch.uint8: 1, torch.bool: 1,
}


def float_format(dtype: torch.dtype) -> FloatFormat:
    if dtype not in _FORMATS:
        raise ValueError(f"unsupported floating-point dtype: {dtype!r}")
    return _FORMATS[dtype]


def bytes_per_element(dtype: torch.dtype) -> int:
    if dtype not in _BYTES:
        raise ValueError(f"unsupported dtype: {dtype!r}")
    return _BYTES[dtype]


def tensor_num_bytes(shape: Shape, dtype: torch.dtype) -> int:
    count = 1
    for size in shape:
        if int(size) < 0:
            raise ValueError(f"negative size in shape {tuple(shape)}")
        count *= int(size)
    return count * bytes_per_element(dtype)


def _bias(dtype: torch.dtype) -> int:
    return 2 ** (float_format(dtype).exponent_bits - 1) - 1


def machine_epsilon(dtype: torch.dtype) -> float:
    return 2.0 ** -float_format(dtype).mantissa_bits


def smallest_normal(dtype: torch.dtype) -> float:
    return 2.0 ** (1 - _bias(dtype))


def max_finite(dtype: torch.dtype) -> float:
    _, e, m = float_format(dtype)
    if dtype == torch.float8_e4m3fn:
        # No infinities: the all-ones exponent is a normal binade; only mantissa all-ones is NaN.
        return (2.0 - 2.0 ** (1 - m)) * 2.0 ** (2**e - 1 - _bias(dtype))
    return (2.0 - 2.0 ** -m) * 2.0 ** (2**e - 2 - _bias(dtype))


def underflows_to_zero(value: float, dtype) -> bool:
    float_format(dtype)
    value = float(value)
    if value == 0.0 or value != value or abs(value) == float("inf"):
        return False
    # At most half the smallest subnormal rounds to 0 (the tie goes to the even neighbour, 0).
    return abs(value) <= 2.0 ** (1 - _bias(dtype) - float_format(dtype).mantissa_bits) / 2
