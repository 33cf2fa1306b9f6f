"""The hidden FloatFormat oracle (tests/hidden/float_formats.py) decodes bit patterns the way
PyTorch does where PyTorch has the format, and the way the OCP MX spec tabulates fp4/fp6.

The hidden tests trust it for formats PyTorch has no finfo for, so it is checked here on
every pattern of float16, bfloat16 and both float8 formats, and on the spec's numbers.
"""

import math

import pytest
import torch

from tests.hidden.float_formats import constants, decode_all, dtype_format, rounds_to_zero
from tests.strategies import MX_FORMATS

pytestmark = pytest.mark.project

SMALL_DTYPES = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")


def torch_values(name: str) -> torch.Tensor:
    """Every pattern of a 8- or 16-bit dtype, decoded by PyTorch (index = the unsigned pattern)."""
    dtype = getattr(torch, name)
    bits = 8 * torch.empty((), dtype=dtype).element_size()
    codes = torch.arange(2**bits, dtype=torch.int64)
    carrier = torch.uint8 if bits == 8 else torch.int16
    codes = torch.where(codes >= 2 ** (bits - 1), codes - 2**bits, codes) if bits == 16 else codes
    return codes.to(carrier).view(dtype).double()


@pytest.mark.parametrize("name", SMALL_DTYPES)
def test_decoder_matches_pytorch_on_every_pattern(name):
    want = torch_values(name)
    got = torch.from_numpy(decode_all(dtype_format(name)).copy())
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got[~got.isnan()], want[~want.isnan()])


@pytest.mark.parametrize("name", SMALL_DTYPES)
def test_constants_found_by_enumeration_match_finfo(name):
    info = torch.finfo(getattr(torch, name))
    found = constants(dtype_format(name))
    assert (found.eps, found.max, found.smallest_normal) == (info.eps, info.max, info.smallest_normal)
    assert found.smallest_positive == info.smallest_normal * info.eps


# The OCP Microscaling Formats v1.0 spec's tables: max normal, min normal, min subnormal.
OCP_TABLE = {"fp4_e2m1": (6.0, 1.0, 0.5), "fp6_e2m3": (7.5, 1.0, 0.125), "fp6_e3m2": (28.0, 0.25, 0.0625)}


@pytest.mark.parametrize("name", sorted(MX_FORMATS))
def test_mx_formats_decode_as_the_ocp_spec_tabulates(name):
    values = decode_all(MX_FORMATS[name])
    assert not any(math.isnan(v) or math.isinf(v) for v in values)  # no inf, no NaN: every pattern a number
    assert len(values) == 2 ** sum(MX_FORMATS[name][:3])
    found = constants(MX_FORMATS[name])
    assert (found.max, found.smallest_normal, found.smallest_positive) == OCP_TABLE[name]
    if name == "fp4_e2m1":
        assert sorted({abs(float(v)) for v in values}) == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


@pytest.mark.parametrize("name", SMALL_DTYPES)
def test_rounding_to_zero_matches_pytorch_casts(name):
    """Around the smallest positive value of each format: the tie, a relative 1e-3 either side
    of it (PyTorch converts through float32, which would round a closer value onto the tie),
    and further out."""
    dtype = getattr(torch, name)
    smallest = constants(dtype_format(name)).smallest_positive
    half = smallest / 2
    for value in (half, half * (1 - 1e-3), half * (1 + 1e-3), smallest, 0.3 * smallest, 0.7 * smallest, -half, -0.6 * smallest):
        want = torch.tensor(value, dtype=torch.float64).to(dtype).double().item() == 0
        assert rounds_to_zero(value, dtype_format(name)) == want, (name, value)
