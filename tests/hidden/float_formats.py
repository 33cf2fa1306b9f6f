"""Trusted oracle for Problem 1's FloatFormat: decode every bit pattern of a small format.

Hidden (never shipped). It knows only how one pattern is read -- sign, exponent field,
mantissa field, the bias, and which patterns a format's `specials` reserve -- and then
*finds* epsilon, the largest finite value, the smallest normal and what rounds to zero
among the decoded values, instead of deriving them: the reference's derivation is checked
against an enumeration, not against a second copy of itself. tests/project/
test_float_format_oracle.py checks this decoder against PyTorch on every pattern of the
formats PyTorch has, and against the OCP MX spec's tables for fp4 and fp6.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch

from tests.strategies import FloatFormat


def dtype_format(name: str) -> FloatFormat:
    """A dtype's layout as a FloatFormat, read off torch.finfo; its specials from a cast of inf."""
    dtype = getattr(torch, name)
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))
    keeps_inf = math.isinf(torch.tensor(math.inf).to(dtype).float().item())
    return FloatFormat(1, info.bits - 1 - mantissa, mantissa, "ieee" if keeps_inf else "nan_only")


class Constants(NamedTuple):
    eps: float
    max: float
    smallest_normal: float
    smallest_positive: float


@lru_cache(maxsize=256)
def decode_all(fmt: tuple) -> np.ndarray:
    """The value of every pattern (index = the pattern as an unsigned int): NaN, +-inf included."""
    _, e, m, specials = fmt
    codes = np.arange(2 ** (1 + e + m), dtype=np.int64)
    sign = np.where((codes >> (e + m)) & 1, -1.0, 1.0)
    field = (codes >> m) & (2**e - 1)
    fraction = codes & (2**m - 1)
    bias = 2 ** (e - 1) - 1
    # Field 0: subnormal, 0.fraction * 2**(1 - bias); otherwise 1.fraction * 2**(field - bias).
    significand = np.where(field == 0, fraction, fraction + 2**m).astype(np.float64)
    values = sign * np.ldexp(significand, np.where(field == 0, 1, field) - bias - m)
    top = field == 2**e - 1
    if specials == "ieee":
        values[top & (fraction == 0)] = sign[top & (fraction == 0)] * math.inf
        values[top & (fraction != 0)] = math.nan
    elif specials == "nan_only":
        values[top & (fraction == 2**m - 1)] = math.nan
    elif specials != "none":
        raise ValueError(f"unknown specials {specials!r}")
    values.flags.writeable = False
    return values


def constants(fmt: tuple) -> Constants:
    """Epsilon, max, smallest normal and smallest positive value, found among the patterns."""
    _, e, m, _ = fmt
    values = decode_all(tuple(fmt))
    finite = values[np.isfinite(values)]
    codes = np.arange(values.size)
    normal = ((codes >> m) & (2**e - 1)) != 0  # an implicit leading 1: exponent field not 0
    positive_normals = values[normal & np.isfinite(values) & (values > 0)]
    return Constants(
        eps=float(finite[finite > 1].min() - 1.0),
        max=float(finite.max()),
        smallest_normal=float(positive_normals.min()),
        smallest_positive=float(finite[finite > 0].min()),
    )


def rounds_to_zero(value: float, fmt: tuple) -> bool:
    """Whether round-to-nearest, ties to the even pattern, stores `value` as +-0 in `fmt`.

    Only 0 and the smallest positive value can be nearest to a value that rounds to 0; the
    comparison is exact (fractions), the tie broken by the parity of the two patterns.
    """
    if value == 0 or not math.isfinite(value):
        return False
    values = decode_all(tuple(fmt))
    with np.errstate(invalid="ignore"):
        positive = np.flatnonzero(np.isfinite(values) & (values > 0))
    code = int(positive[np.argmin(values[positive])])
    smallest = Fraction(float(values[code]))
    magnitude = Fraction(abs(value))
    to_zero, to_smallest = magnitude, smallest - magnitude
    if to_zero != to_smallest:
        return to_zero < to_smallest
    return code % 2 == 1  # a tie: 0's pattern is even, so 0 wins unless the other is even too
