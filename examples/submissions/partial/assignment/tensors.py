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
    specials: str = "ieee"


def float_format(dtype):
    if not isinstance(dtype, torch.dtype):
        # a FloatFormat (the tests send their own kind): check it and give it back
        if not hasattr(dtype, "specials") or dtype.specials not in ("ieee", "nan_only", "none"):
            raise ValueError("not a FloatFormat: " + str(dtype))
        if dtype.sign_bits != 1 or dtype.exponent_bits < 2 or dtype.mantissa_bits < 0:
            raise ValueError("not a valid FloatFormat: " + str(dtype))
        return FloatFormat(dtype.sign_bits, dtype.exponent_bits, dtype.mantissa_bits, dtype.specials)
    # looked these up on wikipedia
    if dtype == torch.float64:
        return FloatFormat(1, 11, 52)
    elif dtype == torch.float32:
        return FloatFormat(1, 8, 23)
    elif dtype == torch.float16:
        return FloatFormat(1, 5, 10)
    elif dtype == torch.bfloat16:
        return FloatFormat(1, 8, 7)
    elif dtype == torch.float8_e4m3fn:
        return FloatFormat(1, 4, 3, "nan_only")
    elif dtype == torch.float8_e5m2:
        return FloatFormat(1, 5, 2)
    else:
        raise ValueError("not a supported float dtype: " + str(dtype))


def bytes_per_element(dtype):
    if not isinstance(dtype, torch.dtype):
        fmt = float_format(dtype)
        bits = fmt.sign_bits + fmt.exponent_bits + fmt.mantissa_bits
        if bits % 8 != 0:
            raise ValueError("fp4/fp6 do not fill whole bytes")
        return bits // 8
    if dtype == torch.float64 or dtype == torch.int64:
        return 8
    if dtype == torch.float32 or dtype == torch.int32:
        return 4
    if dtype == torch.float16 or dtype == torch.bfloat16 or dtype == torch.int16:
        return 2
    if dtype in (torch.float8_e4m3fn, torch.float8_e5m2, torch.int8, torch.uint8, torch.bool):
        return 1
    raise ValueError("unsupported dtype " + str(dtype))


def tensor_num_bytes(shape, dtype):
    n = 1
    for s in shape:
        if s < 0:
            raise ValueError("negative dimension")
        n = n * s
    if not isinstance(dtype, torch.dtype):
        fmt = float_format(dtype)
        bits = n * (fmt.sign_bits + fmt.exponent_bits + fmt.mantissa_bits)
        return math.ceil(bits / 8)
    return n * bytes_per_element(dtype)


def machine_epsilon(dtype):
    fmt = float_format(dtype)
    return 2.0 ** (-fmt.mantissa_bits)


def smallest_normal(dtype):
    fmt = float_format(dtype)
    bias = 2 ** (fmt.exponent_bits - 1) - 1
    return 2.0 ** (1 - bias)


def max_finite(dtype):
    fmt = float_format(dtype)
    bias = 2 ** (fmt.exponent_bits - 1) - 1
    if fmt.specials == "none":
        # no inf, no NaN: everything is a number, even all ones
        max_exp = 2 ** fmt.exponent_bits - 1 - bias
        mantissa = 2 - 2.0 ** (-fmt.mantissa_bits)
    elif fmt.specials == "nan_only" and fmt.mantissa_bits > 0:
        # e4m3fn has no inf, so the top exponent is usable; only mantissa 111 there is NaN
        max_exp = 2 ** fmt.exponent_bits - 1 - bias
        mantissa = 1 + (2 ** fmt.mantissa_bits - 2) / 2 ** fmt.mantissa_bits
    else:
        max_exp = 2 ** fmt.exponent_bits - 2 - bias
        mantissa = 2 - 2.0 ** (-fmt.mantissa_bits)
    return float(mantissa * 2.0 ** max_exp)


def underflows_to_zero(value, dtype):
    fmt = float_format(dtype)  # raises for non-float dtypes
    if value == 0 or math.isinf(value) or math.isnan(value):
        return False
    # half the smallest subnormal or less rounds to 0 (storing it to see would break the own-work rule)
    bias = 2 ** (fmt.exponent_bits - 1) - 1
    return abs(value) <= 2.0 ** (1 - bias - fmt.mantissa_bits) / 2


def fp8_scale(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> Float[Tensor, ""]:
    if dtype != torch.float8_e4m3fn and dtype != torch.float8_e5m2:
        raise ValueError("not an fp8 dtype")
    biggest = x.abs().max().float() if x.numel() > 0 else torch.tensor(0.0)
    if biggest == 0:
        return torch.tensor(1.0, device=x.device)
    return (max_finite(dtype) / biggest).to(x.device)


def quantize_fp8(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> tuple[Float[Tensor, "*shape"], Float[Tensor, ""]]:
    scale = fp8_scale(x, dtype)
    return (x.float() * scale).to(dtype), scale


def dequantize_fp8(q: Float[Tensor, "*shape"], scale: Float[Tensor, ""]) -> Float[Tensor, "*shape"]:
    return q.float() / scale
