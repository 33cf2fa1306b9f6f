"""Problem 1: dtypes and tensor memory (grading suite).

Each test checks the implementation against PyTorch (torch.finfo, element_size, storage
sizes, real conversions) and the reference against the same oracle, so that running the
suite with --impl solutions checks the reference too.
"""

import math

import pytest
import torch
from hypothesis import example, given

from tests.strategies import (
    FLOAT_DTYPE_NAMES,
    SIZED_DTYPE_NAMES,
    UNSUPPORTED_DTYPE_NAMES,
    shapes,
    sized_dtypes,
    underflow_cases,
)

pytestmark = pytest.mark.tensors

IEEE_NAMES = tuple(name for name in FLOAT_DTYPE_NAMES if name != "float8_e4m3fn")


def finfo_layout(dtype):
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))
    return (1, info.bits - 1 - mantissa, mantissa)


def check(got, ref_got, want, call):
    """The reference must match the oracle (else the staff have a bug), then the implementation."""
    assert ref_got == want, f"REFERENCE BUG: {call} gives {ref_got!r}, PyTorch says {want!r}"
    assert got == want, f"{call} = {got!r}, expected {want!r}"


@pytest.mark.parametrize("name", FLOAT_DTYPE_NAMES)
def test_float_format_fields_match_finfo(impl, ref, name):
    """float_format must return FloatFormat(sign_bits, exponent_bits, mantissa_bits) matching each dtype's bit layout."""
    dtype = getattr(torch, name)
    want = finfo_layout(dtype)
    got, ref_got = impl.tensors.float_format(dtype), ref.tensors.float_format(dtype)
    check(tuple(got), tuple(ref_got), want, f"float_format({dtype})")
    assert (got.sign_bits, got.exponent_bits, got.mantissa_bits) == want, f"fields of {got!r}"


@pytest.mark.parametrize("name", UNSUPPORTED_DTYPE_NAMES + ("int64", "uint8", "bool"))
def test_float_format_rejects_unsupported_dtypes(impl, ref, name):
    """float_format must raise ValueError for every dtype that is not one of the six floating-point formats."""
    dtype = getattr(torch, name)
    with pytest.raises(ValueError):
        ref.tensors.float_format(dtype)
    with pytest.raises(ValueError):
        impl.tensors.float_format(dtype)


@pytest.mark.parametrize("name", SIZED_DTYPE_NAMES)
def test_bytes_per_element_matches_element_size(impl, ref, name):
    """bytes_per_element must match PyTorch's element_size() for all twelve listed dtypes, bool included."""
    dtype = getattr(torch, name)
    want = torch.empty((), dtype=dtype).element_size()
    check(impl.tensors.bytes_per_element(dtype), ref.tensors.bytes_per_element(dtype), want, f"bytes_per_element({dtype})")


@pytest.mark.parametrize("name", UNSUPPORTED_DTYPE_NAMES)
def test_bytes_per_element_rejects_unsupported_dtypes(impl, ref, name):
    """bytes_per_element must raise ValueError for dtypes outside the listed twelve (complex, unsigned wider than 8 bits, fnuz float8)."""
    dtype = getattr(torch, name)
    with pytest.raises(ValueError):
        ref.tensors.bytes_per_element(dtype)
    with pytest.raises(ValueError):
        impl.tensors.bytes_per_element(dtype)


@given(shape=shapes(max_dims=5, max_side=6), dtype=sized_dtypes())
@example(shape=(), dtype=torch.float32)
@example(shape=(3, 0, 2), dtype=torch.float64)
@example(shape=(1,), dtype=torch.bool)
@example(shape=(5, 7), dtype=torch.float8_e5m2)
def test_tensor_num_bytes_matches_storage(impl, ref, shape, dtype):
    """tensor_num_bytes must equal the bytes of the storage PyTorch allocates for a dense tensor of that shape and dtype."""
    want = torch.empty(shape, dtype=dtype).untyped_storage().nbytes()
    check(impl.tensors.tensor_num_bytes(shape, dtype), ref.tensors.tensor_num_bytes(shape, dtype), want,
          f"tensor_num_bytes({shape}, {dtype})")


@pytest.mark.parametrize("shape, name", [((2, 3, 4), "float16"), ((), "bfloat16"), ((0, 5), "int64"), ((7,), "float8_e4m3fn")])
def test_tensor_num_bytes_on_device(impl, ref, device, shape, name):
    """tensor_num_bytes depends only on shape and dtype: it must match the storage of a tensor on any device."""
    dtype = getattr(torch, name)
    want = torch.empty(shape, dtype=dtype, device=device).untyped_storage().nbytes()
    check(impl.tensors.tensor_num_bytes(shape, dtype), ref.tensors.tensor_num_bytes(shape, dtype), want,
          f"tensor_num_bytes({shape}, {dtype}) on {device}")


@pytest.mark.parametrize(
    "shape, name",
    [((1024, 1024, 1024, 64), "float32"), ((70_000_000_000,), "bfloat16"), ((2**40, 3), "float8_e5m2")],
)
def test_tensor_num_bytes_huge_shapes_without_allocating(impl, ref, shape, name):
    """tensor_num_bytes must compute the size exactly, as a Python int, without allocating the tensor."""
    dtype = getattr(torch, name)
    want = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    got = impl.tensors.tensor_num_bytes(shape, dtype)
    check(got, ref.tensors.tensor_num_bytes(shape, dtype), want, f"tensor_num_bytes({shape}, {dtype})")
    assert isinstance(got, int), f"tensor_num_bytes returned {type(got).__name__}, expected an exact int"


@pytest.mark.parametrize("shape", [(-1,), (4, -3), (0, -1, 2)])
def test_tensor_num_bytes_rejects_negative_sizes(impl, ref, shape):
    """A shape with a negative size is invalid: tensor_num_bytes must raise ValueError (even when another size is 0)."""
    with pytest.raises(ValueError):
        ref.tensors.tensor_num_bytes(shape, torch.float32)
    with pytest.raises(ValueError):
        impl.tensors.tensor_num_bytes(shape, torch.float32)


@pytest.mark.parametrize("name", FLOAT_DTYPE_NAMES)
def test_machine_epsilon_matches_finfo(impl, ref, name):
    """machine_epsilon is the gap between 1.0 and the next representable number: torch.finfo(dtype).eps."""
    dtype = getattr(torch, name)
    want = torch.finfo(dtype).eps
    check(impl.tensors.machine_epsilon(dtype), ref.tensors.machine_epsilon(dtype), want, f"machine_epsilon({dtype})")


@pytest.mark.parametrize("name", IEEE_NAMES)
def test_max_finite_matches_finfo(impl, ref, name):
    """max_finite for the IEEE-style formats: the largest exponent below the all-ones one, with an all-ones mantissa."""
    dtype = getattr(torch, name)
    want = torch.finfo(dtype).max
    check(impl.tensors.max_finite(dtype), ref.tensors.max_finite(dtype), want, f"max_finite({dtype})")


def test_max_finite_float8_e4m3fn_is_448(impl, ref):
    """float8_e4m3fn has no infinities and a single NaN pattern per sign, so its all-ones exponent holds finite values: max 448."""
    want = torch.finfo(torch.float8_e4m3fn).max
    assert want == 448
    check(impl.tensors.max_finite(torch.float8_e4m3fn), ref.tensors.max_finite(torch.float8_e4m3fn), want,
          "max_finite(torch.float8_e4m3fn)")


@pytest.mark.parametrize("name", FLOAT_DTYPE_NAMES)
def test_smallest_normal_matches_finfo(impl, ref, name):
    """smallest_normal is 2**(1 - bias): the smallest exponent field that is not reserved for subnormals."""
    dtype = getattr(torch, name)
    want = torch.finfo(dtype).smallest_normal
    check(impl.tensors.smallest_normal(dtype), ref.tensors.smallest_normal(dtype), want, f"smallest_normal({dtype})")


@given(case=underflow_cases())
@example(case=(1e-8, torch.float16))
@example(case=(1e-8, torch.bfloat16))
@example(case=(-1e-8, torch.float16))
@example(case=(2.0**-25 * 1.01, torch.float16))  # just above the tie: rounds up to 2**-24
@example(case=(2.0**-25 * 0.99, torch.float16))
@example(case=(2.0**-10 * 1.01, torch.float8_e4m3fn))
@example(case=(2.0**-10 * 0.99, torch.float8_e4m3fn))
@example(case=(2.0**-17 * 1.01, torch.float8_e5m2))
@example(case=(2.0**-17 * 0.99, torch.float8_e5m2))
@example(case=(2.0**-134 * 1.01, torch.bfloat16))
@example(case=(2.0**-150 * 0.99, torch.float32))
@example(case=(1e-45, torch.float32))  # float32's smallest subnormal, about 1.4e-45
@example(case=(5e-324, torch.float64))  # float64 has nothing smaller to round to
@example(case=(1e6, torch.float8_e4m3fn))  # overflow is not underflow
def test_underflows_to_zero_matches_torch(impl, ref, case):
    """underflows_to_zero must say whether storing the value in the dtype gives zero, for all six dtypes, both signs and any magnitude; zero, infinities and NaN never underflow."""
    value, dtype = case
    want = torch.tensor(value, dtype=torch.float64).to(dtype).to(torch.float64).item() == 0
    check(impl.tensors.underflows_to_zero(value, dtype), ref.tensors.underflows_to_zero(value, dtype), want,
          f"underflows_to_zero({value!r}, {dtype})")
    # Only a non-zero finite value can underflow: zero, infinities and NaN never do.
    for special in (0.0, -0.0, math.inf, -math.inf, math.nan):
        check(impl.tensors.underflows_to_zero(special, dtype), ref.tensors.underflows_to_zero(special, dtype), False,
              f"underflows_to_zero({special!r}, {dtype})")
