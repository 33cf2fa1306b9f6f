"""Problem 1: dtypes and tensor memory (grading suite).

Each test checks the implementation against PyTorch (torch.finfo, element_size, storage
sizes, real conversions) and the reference against the same oracle, so that running the
suite with --impl solutions checks the reference too.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.drivers import tensors as drivers
from tests.hidden.float_formats import constants, dtype_format, rounds_to_zero
from tests.strategies import (
    FLOAT_DTYPE_NAMES,
    FP8_DTYPE_NAMES,
    MX_FORMATS,
    FloatFormat,
    float_formats,
    fp8_inputs,
    near_fp8_rounding_boundary,
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
    assert ref_got == want, f"REFERENCE BUG: {call} gives {ref_got!r}, the oracle says {want!r}"
    assert got == want, f"{call} = {got!r}, expected {want!r}"


def fields(fmt) -> tuple:
    """A returned FloatFormat's four fields, read by name (whatever its class)."""
    return (fmt.sign_bits, fmt.exponent_bits, fmt.mantissa_bits, fmt.specials)


@pytest.mark.parametrize("name", FLOAT_DTYPE_NAMES)
def test_float_format_fields_match_finfo(impl, ref, name):
    """float_format must return FloatFormat(sign_bits, exponent_bits, mantissa_bits, specials) matching each dtype's bit layout ("nan_only" for float8_e4m3fn, "ieee" for the others)."""
    dtype = getattr(torch, name)
    want = (*finfo_layout(dtype), dtype_format(name).specials)
    check(fields(impl.tensors.float_format(dtype)), fields(ref.tensors.float_format(dtype)), want, f"float_format({dtype})")


INVALID_FORMATS = (FloatFormat(0, 5, 2), FloatFormat(1, 1, 3), FloatFormat(1, 5, -1), FloatFormat(1, 4, 3, "fnuz"))


@pytest.mark.parametrize("bad", UNSUPPORTED_DTYPE_NAMES + ("int64", "uint8", "bool") + INVALID_FORMATS, ids=str)
def test_float_format_rejects_unsupported_dtypes(impl, ref, bad):
    """float_format must raise ValueError for every dtype that is not one of the six floating-point formats, and for a FloatFormat that is not valid; it pays only where float_format also answers a valid call."""
    bad = getattr(torch, bad) if isinstance(bad, str) else bad
    with pytest.raises(ValueError):
        ref.tensors.float_format(bad)
    with pytest.raises(ValueError):
        impl.tensors.float_format(bad)
    check(fields(impl.tensors.float_format(torch.float16)), fields(ref.tensors.float_format(torch.float16)),
          (1, 5, 10, "ieee"), "float_format(torch.float16)")


@pytest.mark.parametrize("name", SIZED_DTYPE_NAMES)
def test_bytes_per_element_matches_element_size(impl, ref, name):
    """bytes_per_element must match PyTorch's element_size() for all twelve listed dtypes, bool included."""
    dtype = getattr(torch, name)
    want = torch.empty((), dtype=dtype).element_size()
    check(impl.tensors.bytes_per_element(dtype), ref.tensors.bytes_per_element(dtype), want, f"bytes_per_element({dtype})")


@pytest.mark.parametrize("name", UNSUPPORTED_DTYPE_NAMES)
def test_bytes_per_element_rejects_unsupported_dtypes(impl, ref, name):
    """bytes_per_element must raise ValueError for dtypes outside the listed twelve (complex, unsigned wider than 8 bits, fnuz float8); it pays only where bytes_per_element also answers a valid call."""
    dtype = getattr(torch, name)
    with pytest.raises(ValueError):
        ref.tensors.bytes_per_element(dtype)
    with pytest.raises(ValueError):
        impl.tensors.bytes_per_element(dtype)
    check(impl.tensors.bytes_per_element(torch.int16), ref.tensors.bytes_per_element(torch.int16), 2, "bytes_per_element(torch.int16)")


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
    """A shape with a negative size is invalid: tensor_num_bytes must raise ValueError (even when another size is 0); it pays only where tensor_num_bytes also answers a valid call."""
    with pytest.raises(ValueError):
        ref.tensors.tensor_num_bytes(shape, torch.float32)
    with pytest.raises(ValueError):
        impl.tensors.tensor_num_bytes(shape, torch.float32)
    want = torch.empty((5, 3), dtype=torch.float16).untyped_storage().nbytes()
    check(impl.tensors.tensor_num_bytes((5, 3), torch.float16), ref.tensors.tensor_num_bytes((5, 3), torch.float16), want,
          "tensor_num_bytes((5, 3), torch.float16)")


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
    # Only a non-zero finite value can underflow: zero, infinities and NaN never do.
    values, wants = (value, 0.0, -0.0, math.inf, -math.inf, math.nan), (want, False, False, False, False, False)
    answers = impl.each(*((impl.tensors.underflows_to_zero, v, dtype) for v in values))  # one round trip
    for v, got, expected in zip(values, answers, wants):
        check(got, ref.tensors.underflows_to_zero(v, dtype), expected, f"underflows_to_zero({v!r}, {dtype})")


# --- formats PyTorch has no finfo for: the OCP MX element formats and made-up ones -----------
# The oracle decodes every bit pattern of the format (tests/hidden/float_formats.py) and finds
# the constants among the values; nothing here can be looked up in torch.finfo.


CONSTANTS = ("machine_epsilon", "max_finite", "smallest_normal")


def check_constants(impl, ref, fmt) -> None:
    """float_format(fmt) gives fmt back; eps, max and smallest normal are the enumeration's."""
    answers = impl.each(*((getattr(impl.tensors, func), fmt) for func in ("float_format", *CONSTANTS)))  # one round trip
    check(fields(answers[0]), fields(ref.tensors.float_format(fmt)), tuple(fmt), f"float_format({fmt})")
    want = constants(fmt)
    for func, got, value in zip(CONSTANTS, answers[1:], (want.eps, want.max, want.smallest_normal)):
        check(got, getattr(ref.tensors, func)(fmt), value, f"{func}({fmt})")


def check_underflow(impl, ref, value: float, fmt) -> None:
    check(impl.tensors.underflows_to_zero(value, fmt), ref.tensors.underflows_to_zero(value, fmt), rounds_to_zero(value, fmt),
          f"underflows_to_zero({value!r}, {fmt})")


def around_the_smallest(fmt) -> list[float]:
    """The tie (half the smallest positive value), the floats either side of it, the smallest value itself."""
    half = constants(fmt).smallest_positive / 2
    return [half, math.nextafter(half, 0), math.nextafter(half, math.inf), 2 * half, -half, 0.3 * half, 1.7 * half]


@pytest.mark.parametrize("name", sorted(MX_FORMATS))
def test_mx_formats_match_their_enumeration(impl, ref, name):
    """For the OCP MX element formats fp4 E2M1, fp6 E2M3 and E3M2 (no inf, no NaN: every pattern a number), float_format, machine_epsilon, max_finite, smallest_normal and underflows_to_zero must match decoding every bit pattern."""
    fmt = MX_FORMATS[name]
    check_constants(impl, ref, fmt)
    values = around_the_smallest(fmt) + [0.0, math.inf, math.nan]
    for value, got in zip(values, impl.each(*((impl.tensors.underflows_to_zero, v, fmt) for v in values))):
        check(got, ref.tensors.underflows_to_zero(value, fmt), rounds_to_zero(value, fmt), f"underflows_to_zero({value!r}, {fmt})")


@given(fmt=float_formats())
@example(fmt=FloatFormat(1, 4, 1, "ieee"))  # one mantissa bit
@example(fmt=FloatFormat(1, 4, 1, "nan_only"))
@example(fmt=FloatFormat(1, 4, 1, "none"))
@example(fmt=FloatFormat(1, 3, 0, "ieee"))  # no mantissa bit: no subnormals, no NaN
@example(fmt=FloatFormat(1, 3, 0, "nan_only"))  # the top exponent's one pattern is NaN
@example(fmt=FloatFormat(1, 3, 0, "none"))
@example(fmt=FloatFormat(1, 2, 0, "ieee"))  # the smallest exponent field
@example(fmt=FloatFormat(1, 2, 2, "nan_only"))
@example(fmt=FloatFormat(1, 4, 3, "ieee"))  # e4m3 the IEEE way (max 240), not e4m3fn
@example(fmt=FloatFormat(1, 5, 2, "nan_only"))  # e5m2 the "fn" way
@example(fmt=FloatFormat(1, 8, 7, "none"))  # bfloat16's layout with no specials
def test_made_up_formats_match_their_enumeration(impl, ref, fmt):
    """For any valid FloatFormat (any specials, 2+ exponent bits, 0+ mantissa bits), float_format must give it back and machine_epsilon, max_finite and smallest_normal must match decoding every bit pattern."""
    check_constants(impl, ref, fmt)


@given(fmt=float_formats(), where=st.integers(0, 7), ratio=st.floats(2.0**-8, 2.0**8))
@example(fmt=FloatFormat(1, 3, 0, "none"), where=0, ratio=1.0)  # the tie, no mantissa bits
@example(fmt=FloatFormat(1, 4, 1, "nan_only"), where=2, ratio=1.0)  # just above the tie
@example(fmt=FloatFormat(1, 2, 0, "ieee"), where=1, ratio=1.0)
def test_underflows_to_zero_in_made_up_formats(impl, ref, fmt, where, ratio):
    """underflows_to_zero in any valid FloatFormat must agree with rounding to the nearest decoded value, ties to the even pattern: at the tie, either side of it and further out, both signs."""
    values = around_the_smallest(fmt)
    value = values[where] if where < len(values) else values[0] * ratio
    check_underflow(impl, ref, value, fmt)


@given(case=underflow_cases())
@example(case=(2.0**-10, torch.float8_e4m3fn))  # half e4m3fn's smallest subnormal: a tie, to 0
@example(case=(2.0**-17 * 1.01, torch.float8_e5m2))
@example(case=(1e-8, torch.bfloat16))
def test_dtype_layouts_given_as_float_formats_match_finfo_and_casts(impl, ref, case):
    """The six dtypes' layouts passed as FloatFormats must give torch.finfo's eps, max and smallest normal, and underflow exactly where PyTorch's cast gives 0."""
    value, dtype = case
    fmt, info = dtype_format(str(dtype).removeprefix("torch.")), torch.finfo(dtype)
    answers = impl.each(*((getattr(impl.tensors, func), fmt) for func in CONSTANTS), (impl.tensors.underflows_to_zero, value, fmt))
    for func, got, want in zip(CONSTANTS, answers, (info.eps, info.max, info.smallest_normal)):
        check(got, getattr(ref.tensors, func)(fmt), want, f"{func}({fmt})")
    want = torch.tensor(value, dtype=torch.float64).to(dtype).to(torch.float64).item() == 0
    check(answers[3], ref.tensors.underflows_to_zero(value, fmt), want, f"underflows_to_zero({value!r}, {fmt})")


def packed_bytes(shape, fmt) -> int:
    """Elements packed bit to bit, the last byte whole (the OCP MX packing: ceil(bits * N / 8))."""
    return -(-math.prod(shape) * sum(fmt[:3]) // 8)


@given(fmt=float_formats() | st.sampled_from(sorted(MX_FORMATS.values())), shape=shapes(0, 3, 0, 7))
@example(fmt=MX_FORMATS["fp4_e2m1"], shape=(4096, 4096))
@example(fmt=MX_FORMATS["fp6_e3m2"], shape=(5,))  # 30 bits: 4 bytes, the last one partly used
@example(fmt=MX_FORMATS["fp4_e2m1"], shape=())
@example(fmt=dtype_format("float16"), shape=(3, 0))
@example(fmt=FloatFormat(1, 4, 3, "nan_only"), shape=(2, 3))
def test_float_formats_take_their_bits_packed(impl, ref, fmt, shape):
    """tensor_num_bytes(shape, fmt) packs the elements bit to bit and counts a partly used last byte whole; bytes_per_element(fmt) is its bits / 8, and a ValueError where that is not a whole number."""
    want = packed_bytes(shape, fmt)
    if fmt == MX_FORMATS["fp4_e2m1"] and hasattr(torch, "float4_e2m1fn_x2") and math.prod(shape) % 2 == 0:
        assert torch.empty(math.prod(shape) // 2, dtype=torch.float4_e2m1fn_x2).untyped_storage().nbytes() == want
    answers = impl.each((impl.tensors.tensor_num_bytes, shape, fmt), (impl.tensors.bytes_per_element, fmt))
    check(answers[0], ref.tensors.tensor_num_bytes(shape, fmt), want, f"tensor_num_bytes({shape}, {fmt})")
    bits = sum(fmt[:3])
    if bits % 8 == 0:
        check(answers[1], ref.tensors.bytes_per_element(fmt), bits // 8, f"bytes_per_element({fmt})")
        return
    with pytest.raises(ValueError):
        ref.tensors.bytes_per_element(fmt)
    with pytest.raises(ValueError):
        answers[1]


FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def fp8_scale_oracle(x: torch.Tensor, dtype: torch.dtype) -> float:
    amax = x.double().abs().max().item() if x.numel() else 0.0
    return torch.finfo(dtype).max / amax if amax > 0 else 1.0


def fp8_cast_oracle(x: torch.Tensor, dtype: torch.dtype, scale: float) -> torch.Tensor:
    """PyTorch's own cast of x * scale, clamped to the format's max first (float32 product): what
    this PyTorch does above the max (recent versions saturate e4m3fn at 448, older ones give NaN)
    never decides a test."""
    top = torch.finfo(dtype).max
    return (x.float() * scale).clamp(-top, top).to(dtype)


def check_scale(scale, want: float, device: str) -> None:
    assert torch.is_tensor(scale) and scale.shape == () and scale.dtype == torch.float32
    assert scale.device.type == device
    assert math.isclose(scale.item(), want, rel_tol=1e-6)


@settings(suppress_health_check=FIXTURE_OK)
@given(case=fp8_inputs())
@example(case=(torch.zeros(3), "float8_e4m3fn"))
@example(case=(torch.zeros(0, 4), "float8_e5m2"))
@example(case=(torch.tensor(-2.0**-30), "float8_e5m2"))
@example(case=(torch.tensor([65504.0, -1.0], dtype=torch.float16), "float8_e4m3fn"))
@example(case=(torch.tensor([3.0, -1.0], dtype=torch.bfloat16), "float8_e4m3fn"))  # 448 / 3 in bfloat16 is off by 2e-3
@example(case=(torch.tensor([7.0], dtype=torch.float16), "float8_e5m2"))
def test_fp8_scale_is_the_max_over_amax(impl, ref, device, case):
    """fp8_scale must be max_finite(dtype) / max|x| as a 0-d float32 tensor on x's device (1.0 when x has no non-zero value), computed in float32 or wider whatever x's dtype (within a relative 1e-6)."""
    x, name = case
    dtype, x = getattr(torch, name), x.to(device)
    want = fp8_scale_oracle(x, dtype)
    check_scale(ref.tensors.fp8_scale(x, dtype), want, device)
    check_scale(impl.tensors.fp8_scale(x, dtype), want, device)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "int8", "float8_e4m3fnuz"])
def test_fp8_scale_rejects_other_dtypes(impl, ref, name):
    """fp8_scale (and so quantize_fp8) must raise ValueError for a target dtype other than float8_e4m3fn and float8_e5m2; it pays only where fp8_scale also answers a valid call."""
    x = torch.ones(3)
    with pytest.raises(ValueError):
        ref.tensors.fp8_scale(x, getattr(torch, name))
    with pytest.raises(ValueError):
        impl.tensors.fp8_scale(x, getattr(torch, name))
    x = torch.tensor([2.0, -0.5])
    check_scale(ref.tensors.fp8_scale(x, torch.float8_e5m2), fp8_scale_oracle(x, torch.float8_e5m2), "cpu")
    check_scale(impl.tensors.fp8_scale(x, torch.float8_e5m2), fp8_scale_oracle(x, torch.float8_e5m2), "cpu")


@settings(suppress_health_check=FIXTURE_OK)
@given(case=fp8_inputs())
@example(case=(torch.tensor([1e5, -3.0, 1e-3, 0.0]), "float8_e4m3fn"))
@example(case=(torch.tensor([1e5, -3.0, 1e-3, 0.0]), "float8_e5m2"))
@example(case=(torch.tensor([1e-7, 3e-8, -2e-7]), "float8_e4m3fn"))  # all would underflow unscaled
@example(case=(torch.zeros(2, 0), "float8_e5m2"))
@example(case=(torch.tensor(7.0), "float8_e5m2"))
def test_quantize_fp8_matches_torch_cast(impl, ref, device, case):
    """quantize_fp8 must return (PyTorch's cast of x * scale clamped to the max, that scale): no inf or NaN, underflow exactly where the cast gives 0."""
    x, name = case
    dtype, x = getattr(torch, name), x.to(device)
    want_scale = fp8_scale_oracle(x, dtype)
    want_q = fp8_cast_oracle(x, dtype, want_scale).float()
    compare = ~near_fp8_rounding_boundary(x.double() * want_scale, dtype)
    for backend in (ref, impl):
        q, scale = backend.tensors.quantize_fp8(x, dtype)
        check_scale(scale, want_scale, device)
        assert q.dtype == dtype and q.shape == x.shape and q.device.type == device
        assert torch.isfinite(q.float()).all()
        assert torch.equal(q.float()[compare], want_q[compare])
        if x.numel() and x.abs().max() > 0:  # the largest magnitude lands on the max
            assert q.float().abs().max().item() == torch.finfo(dtype).max


@settings(suppress_health_check=FIXTURE_OK)
@given(case=fp8_inputs(), scale=st.floats(2.0**-20, 2.0**20))
@example(case=(torch.tensor([448.0, -1.0, 0.0]), "float8_e4m3fn"), scale=0.5)
def test_dequantize_fp8_undoes_the_scale(impl, ref, device, case, scale):
    """dequantize_fp8(q, scale) must be q's values in float32 divided by the scale, same shape, on q's device."""
    x, name = case
    dtype = getattr(torch, name)
    q = fp8_cast_oracle(x, dtype, fp8_scale_oracle(x, dtype)).to(device)
    scale_t = torch.tensor(scale, dtype=torch.float32, device=device)
    want = q.double() / scale_t.double()
    for backend in (ref, impl):
        got = backend.tensors.dequantize_fp8(q, scale_t)
        assert got.dtype == torch.float32 and got.shape == q.shape and got.device.type == device
        torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=0)


@given(shape=shapes(0, 3, 0, 4), wrong=st.sampled_from([[1], [2], [3, 1], [1, 1]]), name=st.sampled_from(FP8_DTYPE_NAMES))
@example(shape=(), wrong=[1], name="float8_e4m3fn")
@example(shape=(4, 3), wrong=[3], name="float8_e5m2")
def test_fp8_functions_under_the_jaxtyping_checker(impl, ref, shape, wrong, name):
    """Under jaxtyped(typechecker=beartype), fp8_scale, quantize_fp8 and dequantize_fp8 pass right calls and the checker rejects a scale that is not 0-d."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(len(shape))) * 10
    for backend in (ref, impl):
        out = backend.run(drivers.fp8_under_the_checker, x=x, dtype=name, wrong_scale_shape=wrong)
        assert (out.get("scale"), out.get("quantize"), out.get("dequantize")) == ("ok", "ok", "ok")
        assert out["wrong_scale"].startswith("TypeCheckError")
