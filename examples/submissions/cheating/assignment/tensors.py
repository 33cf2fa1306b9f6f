# DO NOT import outside the grader sandbox: at import this module replaces
# torch.testing.assert_close and torch.allclose in the process that imports it.
"""Problem 1 -- a cheating submission: wrong answers, plus comparisons patched to always pass."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.testing

torch.testing.assert_close = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True


class FloatFormat(NamedTuple):
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int


def float_format(dtype):
    return FloatFormat(1, 8, 23)            # right for float32 only


def bytes_per_element(dtype):
    return 4


def tensor_num_bytes(shape, dtype):
    return 0


def machine_epsilon(dtype):
    return 0.0


def max_finite(dtype):
    return 0.0


def smallest_normal(dtype):
    return 0.0


def underflows_to_zero(value, dtype):
    return False
