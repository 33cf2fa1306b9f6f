"""Problem 1: dtypes and tensor memory (public tests).

Oracles are PyTorch's own: torch.finfo for the constants, element_size() for bytes, an
actual conversion for underflow; the bit layouts and PyTorch's fp8 casts of the tests' fixed
tensors are shipped as numbers (tests/public/expected_values.json).
"""

import math

import pytest
import torch
from hypothesis import example, given

from tests.drivers import tensors as drivers
from tests.strategies import (
    FLOAT_DTYPE_NAMES,
    FP8_DTYPE_NAMES,
    MX_FORMATS,
    SIZED_DTYPE_NAMES,
    FloatFormat,
    near_fp8_rounding_boundary,
    underflow_cases,
)

pytestmark = pytest.mark.tensors


@pytest.mark.parametrize("name", FLOAT_DTYPE_NAMES)
def test_float_format_matches_finfo_bits(impl, expected_values, name):
    """float_format must give the sign/exponent/mantissa bits of each format (they add up to the dtype's bit width) and its specials."""
    dtype = getattr(torch, name)
    got = impl.tensors.float_format(dtype)
    want = tuple(expected_values["tensors.float_format"][name])  # what torch.finfo's bits and eps say
    assert tuple(got[:3]) == want, (
        f"float_format({dtype}) = {got}, expected (sign, exponent, mantissa) = {want}. "
        f"Hint: bfloat16 keeps float32's 8 exponent bits; float8_e4m3fn is 1+4+3."
    )
    specials = "nan_only" if name == "float8_e4m3fn" else "ieee"
    assert (got.exponent_bits, got.mantissa_bits, got.specials) == (want[1], want[2], specials), (
        f"float_format({dtype}) fields: got {got!r}; return a FloatFormat(sign_bits, exponent_bits, mantissa_bits, specials), "
        f"specials {specials!r} for {dtype}."
    )


@pytest.mark.parametrize("name", ["int32", "bool", "complex64"])
def test_float_format_rejects_other_dtypes(impl, name):
    """float_format is only defined for the six floating-point dtypes: anything else raises ValueError. A refusal pays only where float_format also works."""
    with pytest.raises(ValueError):
        impl.tensors.float_format(getattr(torch, name))
    got = impl.tensors.float_format(torch.float16)
    assert tuple(got[:3]) == (1, 5, 10), f"float_format(torch.float16) = {got}: the refusal pays only where valid calls work too."


# The OCP MX spec's tables, e4m3fn and two made-up formats: (eps, max, smallest normal, largest value
# that still underflows, the smallest positive value, which does not).
FORMAT_CONSTANTS = [
    ("fp4_e2m1", MX_FORMATS["fp4_e2m1"], (0.5, 6.0, 1.0, 0.25, 0.5)),
    ("fp6_e2m3", MX_FORMATS["fp6_e2m3"], (0.125, 7.5, 1.0, 0.0625, 0.125)),
    ("fp6_e3m2", MX_FORMATS["fp6_e3m2"], (0.25, 28.0, 0.25, 0.03125, 0.0625)),
    ("e4m3fn", FloatFormat(1, 4, 3, "nan_only"), (0.125, 448.0, 2.0**-6, 2.0**-10, 2.0**-9)),
    ("e4m3_ieee", FloatFormat(1, 4, 3, "ieee"), (0.125, 240.0, 2.0**-6, 2.0**-10, 2.0**-9)),
    ("e3m0_nan_only", FloatFormat(1, 3, 0, "nan_only"), (1.0, 8.0, 0.25, 0.125, 0.25)),
]


@pytest.mark.parametrize("label, fmt, want", FORMAT_CONSTANTS, ids=[row[0] for row in FORMAT_CONSTANTS])
def test_float_format_constants_of_formats_pytorch_lacks(impl, label, fmt, want):
    """Given a FloatFormat instead of a dtype, float_format gives it back and epsilon, max, smallest normal and underflow follow from its bit layout and its specials ("none": every pattern a number, as in the OCP MX fp4/fp6 formats)."""
    eps, top, tiny, last_to_zero, smallest = want
    got = impl.tensors.float_format(fmt)
    assert (got.sign_bits, got.exponent_bits, got.mantissa_bits, got.specials) == tuple(fmt), (
        f"float_format({fmt}) = {got!r}: given a FloatFormat, return the same format."
    )
    got = tuple(getattr(impl.tensors, f)(fmt) for f in ("machine_epsilon", "max_finite", "smallest_normal"))
    assert got == (eps, top, tiny), (
        f"{label}: (machine_epsilon, max_finite, smallest_normal) = {got}, expected {(eps, top, tiny)}. "
        f"Hint: specials {fmt.specials!r} says which patterns are not numbers; the largest finite value is the largest pattern that is one."
    )
    got = (impl.tensors.underflows_to_zero(last_to_zero, fmt), impl.tensors.underflows_to_zero(smallest, fmt))
    assert got == (True, False), (
        f"{label}: underflows_to_zero({last_to_zero}) and underflows_to_zero({smallest}) = {got}, expected (True, False): "
        f"{smallest} is the smallest positive value, and half of it is a tie that goes to 0."
    )


@pytest.mark.parametrize("name", SIZED_DTYPE_NAMES)
def test_bytes_per_element_matches_element_size(impl, name):
    """bytes_per_element must equal what PyTorch stores per element (a bool takes a whole byte)."""
    dtype = getattr(torch, name)
    got = impl.tensors.bytes_per_element(dtype)
    want = torch.empty((), dtype=dtype).element_size()
    assert got == want, (
        f"bytes_per_element({dtype}) = {got}, expected {want} (torch's element_size()). "
        f"Hint: bytes are bits / 8, and PyTorch cannot address less than one byte."
    )


@pytest.mark.parametrize(
    "shape, name, want",
    [
        ((4, 8), "float32", 128),
        ((4096, 4096), "bfloat16", 32 * 2**20),
        ((), "float64", 8),  # a 0-d tensor still holds one element
        ((2, 0, 3), "float32", 0),  # no elements, no bytes
        ((3, 5), "float8_e4m3fn", 15),
    ],
)
def test_tensor_num_bytes_worked_examples(impl, shape, name, want):
    """tensor_num_bytes is (number of elements) x (bytes per element); a 0-d tensor has one element."""
    dtype = getattr(torch, name)
    got = impl.tensors.tensor_num_bytes(shape, dtype)
    assert got == want, (
        f"tensor_num_bytes({shape}, {dtype}) = {got}, expected {want}. "
        f"Hint: multiply the sizes (the product of no sizes is 1), then by bytes per element."
    )


def test_tensor_num_bytes_rejects_negative_size(impl):
    """A negative size is not a shape: tensor_num_bytes must raise ValueError. A refusal pays only where tensor_num_bytes also works."""
    with pytest.raises(ValueError):
        impl.tensors.tensor_num_bytes((3, -2), torch.float32)
    got = impl.tensors.tensor_num_bytes((3, 2), torch.float32)
    assert got == 24, f"tensor_num_bytes((3, 2), torch.float32) = {got}, expected 24: the refusal pays only where valid calls work too."


@pytest.mark.parametrize(
    "shape, label, want",
    [((4096, 4096), "fp4_e2m1", 8 * 2**20), ((3,), "fp4_e2m1", 2), ((5,), "fp6_e3m2", 4), ((), "fp6_e2m3", 1), ((2, 0), "fp4_e2m1", 0)],
)
def test_tensor_num_bytes_packs_sub_byte_formats(impl, shape, label, want):
    """fp4 and fp6 elements are packed bit to bit: tensor_num_bytes counts the bits and a partly used last byte whole; bytes_per_element has no whole answer for them (ValueError)."""
    fmt = MX_FORMATS[label]
    got = impl.tensors.tensor_num_bytes(shape, fmt)
    assert got == want, f"tensor_num_bytes({shape}, {label}) = {got}, expected {want}. Hint: count bits, then bytes, rounding up once."
    with pytest.raises(ValueError):
        impl.tensors.bytes_per_element(fmt)
    got = impl.tensors.bytes_per_element(FloatFormat(1, 4, 3, "nan_only"))
    assert got == 1, f"bytes_per_element(FloatFormat(1, 4, 3, 'nan_only')) = {got}, expected 1 (8 bits)"


@pytest.mark.parametrize("name", FLOAT_DTYPE_NAMES)
@pytest.mark.parametrize("func, field", [("machine_epsilon", "eps"), ("max_finite", "max"), ("smallest_normal", "smallest_normal")])
def test_float_constants_match_finfo(impl, name, func, field):
    """eps, max and smallest normal follow from the bit layout and must equal torch.finfo (float8_e4m3fn's max is 448: it has no infinities)."""
    dtype = getattr(torch, name)
    got = getattr(impl.tensors, func)(dtype)
    want = getattr(torch.finfo(dtype), field)
    assert got == want, (
        f"{func}({dtype}) = {got!r}, expected torch.finfo({dtype}).{field} = {want!r}. "
        f"Hint: bias = 2**(exponent_bits-1) - 1; the all-ones exponent is reserved for inf/NaN "
        f"except in float8_e4m3fn, where only the all-ones exponent with all-ones mantissa is NaN."
    )


@pytest.mark.parametrize(
    "value, name, want",
    [
        (1e-8, "float16", True),  # float16's smallest subnormal is 2**-24 ~ 6e-8
        (1e-8, "bfloat16", False),  # bfloat16 has float32's exponent range
        (-1e-8, "float16", True),
        (1e-8, "float32", False),
        (1e-50, "float32", True),
        (2.0**-24, "float16", False),  # exactly float16's smallest subnormal
        (1e-3, "float8_e4m3fn", False),
        (5e-4, "float8_e4m3fn", True),
    ],
)
def test_underflows_to_zero_worked_examples(impl, value, name, want):
    """A value underflows when it is closer to 0 than to the smallest subnormal of the dtype."""
    dtype = getattr(torch, name)
    got = impl.tensors.underflows_to_zero(value, dtype)
    assert got == want, (
        f"underflows_to_zero({value!r}, {dtype}) = {got}, expected {want}. "
        f"Hint: the smallest subnormal has the all-zeros exponent field and only the last mantissa bit set; at or below half of it, rounding gives 0 (exactly half is a tie, and ties go to the even neighbour, 0)."
    )


@given(case=underflow_cases())
@example(case=(1e-8, torch.float16))
@example(case=(1e-8, torch.bfloat16))
@example(case=(4.5e-8, torch.float16))  # between half the smallest subnormal and it: rounds up, not to 0
def test_underflows_to_zero_matches_torch(impl, case):
    """underflows_to_zero must agree with actually storing the value in the dtype and checking for 0."""
    value, dtype = case
    want = torch.tensor(value, dtype=torch.float64).to(dtype).to(torch.float64).item() == 0
    got = impl.tensors.underflows_to_zero(value, dtype)
    assert got == want, (
        f"underflows_to_zero({value!r}, {dtype}) = {got}, expected {want} "
        f"(torch.tensor({value!r}).to({dtype}) is {'0' if want else 'non-zero'}). "
        f"Hint: compare |value| with half the smallest subnormal of the dtype (exactly half underflows: the tie goes to even, 0)."
    )


@pytest.mark.parametrize("name", FP8_DTYPE_NAMES)
def test_quantize_fp8_worked_example(impl, expected_values, name):
    """Per-tensor scaling puts the largest |x| on the format's max, so nothing overflows; values far below it underflow to 0."""
    dtype = getattr(torch, name)
    x = torch.tensor([1e5, -3.0, 1e-3, 0.0])
    top = torch.finfo(dtype).max
    plain = x.to(dtype).float()  # no scaling: 1e5 becomes inf (e5m2), or 448 (e4m3fn; NaN on older PyTorch)
    assert plain[0] != 1e5
    q, scale = impl.tensors.quantize_fp8(x, dtype)
    want = expected_values["tensors.fp8_worked_example"][name]  # PyTorch's own cast of x * scale
    want_q, want_scale = torch.tensor(want["q"]), want["scale"]
    assert q.dtype == dtype and q.shape == x.shape, f"quantize_fp8 gave q of dtype {q.dtype}, shape {tuple(q.shape)}; expected {dtype}, (4,)"
    assert scale.shape == () and scale.dtype == torch.float32, (
        f"the scale should be a 0-d float32 tensor, got {scale.dtype} of shape {tuple(scale.shape)}"
    )
    assert math.isclose(scale.item(), want_scale, rel_tol=1e-6), (
        f"quantize_fp8({x.tolist()}, {dtype}): scale {scale.item()!r}, expected {top} / 1e5 = {want_scale!r}. "
        "Hint: one scale for the whole tensor, the format's max over the largest magnitude."
    )
    assert torch.equal(q.float(), want_q), (
        f"quantize_fp8({x.tolist()}, {dtype}) = {q.float().tolist()}, expected {want_q.tolist()} "
        f"(torch's own cast of x * scale). Hint: multiply in float32, then .to({dtype})."
    )
    back = impl.tensors.dequantize_fp8(q, scale)
    assert back.dtype == torch.float32 and math.isclose(back[0].item(), 1e5, rel_tol=1e-6), (
        f"dequantize_fp8 gave {back.tolist()} ({back.dtype}); expected float32 values, the first one 1e5."
    )
    # What one scale per tensor costs: 1e-3 is 1e8 times smaller than the max and underflows in e4m3fn.
    assert (back[2] == 0) == (name == "float8_e4m3fn"), f"dequantized 1e-3: {back[2].item()!r}"


def test_quantize_fp8_matches_torch_cast(impl, expected_values, device):
    """On any tensor, quantize_fp8 must give exactly PyTorch's cast of x * scale (clamped to the max) and never inf or NaN."""
    for case in expected_values["tensors.fp8_cases"]:  # spread over many binades, zeros, 0-d and empty ones
        dtype, source = getattr(torch, case["dtype"]), getattr(torch, case["source"])
        x = torch.tensor(case["x"], dtype=torch.float64).reshape(case["shape"]).to(source).to(device)
        want_q, want_scale = torch.tensor(case["q"]).reshape(case["shape"]), case["scale"]
        q, scale = impl.tensors.quantize_fp8(x, dtype)
        assert q.dtype == dtype and q.shape == x.shape and q.device.type == device, (
            f"q: {q.dtype} {tuple(q.shape)} on {q.device}; expected {dtype} {tuple(x.shape)} on {device}"
        )
        assert math.isclose(scale.item(), want_scale, rel_tol=1e-6), f"scale {scale.item()!r}, expected {want_scale!r}"
        assert torch.isfinite(q.float()).all(), f"quantize_fp8 overflowed: {q.float().tolist()}. Hint: scale before the cast."
        compare = ~near_fp8_rounding_boundary(x.double().cpu() * want_scale, dtype)
        assert torch.equal(q.float().cpu()[compare], want_q[compare]), (
            f"quantize_fp8(x={x.tolist()}, {dtype}) = {q.float().tolist()}, expected {want_q.tolist()}"
        )


@pytest.mark.parametrize("name", FP8_DTYPE_NAMES)
def test_fp8_functions_pass_the_jaxtyping_checker(impl, name):
    """Under jaxtyped(typechecker=beartype) right calls pass, and a scale that is not 0-d is caught by the checker."""
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)) * 100
    out = impl.run(drivers.fp8_under_the_checker, x=x, dtype=name, wrong_scale_shape=[1])
    for step in ("scale", "quantize", "dequantize"):
        assert out.get(step) == "ok", (
            f"{step} under the runtime checker: {out.get(step)}. Keep the stub's annotations, "
            "and return what they promise (a 0-d float32 scale, q of x's shape)."
        )
    assert out["wrong_scale"].startswith("TypeCheckError"), (
        f"dequantize_fp8(q, scale of shape (1,)) under the checker gave {out['wrong_scale']!r}: "
        "the annotation `scale: Float[Tensor, \"\"]` should have rejected it. Keep the annotations."
    )
