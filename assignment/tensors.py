"""Problem 1: dtypes and tensor memory.

A floating-point number is stored as three bit fields: a sign, an exponent and a
mantissa (the fraction). Everything about a format -- its size, its precision, its
range, where small numbers vanish -- follows from how many bits each field gets.
Derive every answer here from the bit layout; do not look it up in torch.finfo
(the tests compare your numbers with it). Every function that takes a `dtype` also
takes a FloatFormat instead, so the same code answers for formats PyTorch has no
finfo for: the OCP MX element formats fp4 (E2M1) and fp6 (E2M3, E3M2), or any
layout you make up.
"""

from typing import NamedTuple, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

Shape = Sequence[int]


class FloatFormat(NamedTuple):
    """A floating-point format: its three bit fields and what its special patterns mean.

    `specials` says which bit patterns are not ordinary numbers:
      "ieee"      the all-ones exponent field is reserved: with an all-zeros mantissa it
                  is +-infinity, with any other mantissa NaN (float64, float32, float16,
                  bfloat16, float8_e5m2). The default, so FloatFormat(1, 8, 23) is float32.
      "nan_only"  no infinities; only the pattern whose exponent and mantissa bits are
                  all ones is NaN (one per sign); every other pattern, the rest of the
                  all-ones exponent included, is an ordinary number (float8_e4m3fn).
      "none"      no infinities and no NaN: every pattern is a number, the all-ones
                  exponent included (the OCP MX formats: FloatFormat(1, 2, 1, "none") is
                  fp4 E2M1; (1, 2, 3, "none") and (1, 3, 2, "none") are fp6 E2M3 and E3M2).
    Every format has the same bias rule, subnormals (exponent field 0) and one sign bit.
    Beware the names elsewhere: ml_dtypes calls the fp4/fp6 formats "...fn" too, although
    they have no NaN at all.

    A valid FloatFormat has sign_bits 1, exponent_bits >= 2, mantissa_bits >= 0 and one of
    the three `specials`. The tests pass their own NamedTuple with these four fields (not
    necessarily your class): tell a format from a dtype with isinstance(x, torch.dtype).
    """

    sign_bits: int
    exponent_bits: int
    mantissa_bits: int
    specials: str = "ieee"


def float_format(dtype: torch.dtype | FloatFormat) -> FloatFormat:
    """The bit layout of a floating-point dtype, `specials` included.

    Supported: float64, float32, float16, bfloat16, float8_e4m3fn, float8_e5m2.
    The three fields add up to the dtype's width in bits. float16 and bfloat16 are
    both 16 bits but split them differently: bfloat16 keeps float32's exponent field
    (same range, much less precision). The float8 names spell their layout: e4m3 means
    4 exponent bits and 3 mantissa bits.

    Example: float32 -> FloatFormat(sign_bits=1, exponent_bits=8, mantissa_bits=23,
    specials="ieee"); float8_e4m3fn's specials are "nan_only".
    Any other dtype (an integer type, complex64, ...): raise ValueError.
    Given a FloatFormat, return the same format (a FloatFormat with equal fields); one
    that is not valid (see FloatFormat): raise ValueError.
    """
    raise NotImplementedError("Problem 1 (tensors.float_format): return the sign/exponent/mantissa bit counts of the dtype")


def bytes_per_element(dtype: torch.dtype | FloatFormat) -> int:
    """Bytes one element of `dtype` takes in memory.

    Supported: the six float dtypes above, int64, int32, int16, int8, uint8 and bool.
    Memory is addressed in bytes, so even a bool takes a whole byte.
    Example: bfloat16 -> 2, int64 -> 8. Any other dtype: raise ValueError.
    A FloatFormat whose bits make whole bytes: that many bytes; a narrower or odd-sized one
    (fp4, fp6) has no whole number of bytes per element: raise ValueError.
    """
    raise NotImplementedError("Problem 1 (tensors.bytes_per_element): return the size of one element in bytes")


def tensor_num_bytes(shape: Shape, dtype: torch.dtype | FloatFormat) -> int:
    """Memory of a dense tensor of `shape` and `dtype`, in bytes, computed without allocating it.

    This is how you size a model before it exists: a (4096, 4096) bfloat16 weight
    takes 4096 * 4096 * 2 bytes = 32 MiB. A 0-d tensor (shape ()) holds one element;
    a shape with a 0 in it holds none. A negative size: raise ValueError.
    Return an exact Python int.
    For a FloatFormat, the elements are packed bit to bit with nothing between them (as
    MX tensors store fp4 and fp6), and a last byte that is only partly used counts whole.
    """
    raise NotImplementedError("Problem 1 (tensors.tensor_num_bytes): count the elements and multiply by the bytes per element")


def machine_epsilon(dtype: torch.dtype | FloatFormat) -> float:
    """The gap between 1.0 and the next larger number the dtype can represent.

    Near 1.0 the exponent is fixed, so the next number differs only in the last
    mantissa bit. More mantissa bits, smaller epsilon: float16's is 2**-10 ~ 0.000977,
    bfloat16's only 2**-7 = 0.0078125. Must equal torch.finfo(dtype).eps.
    """
    raise NotImplementedError("Problem 1 (tensors.machine_epsilon): derive eps from the number of mantissa bits")


def max_finite(dtype: torch.dtype | FloatFormat) -> float:
    """The largest finite number of the dtype (torch.finfo(dtype).max).

    A value is (1 + mantissa fraction) * 2**(stored exponent - bias), with
    bias = 2**(exponent_bits - 1) - 1. In IEEE-style formats the all-ones exponent is
    reserved for infinity and NaN, so the largest finite value uses the largest exponent
    field below it and the largest mantissa. Check your answer on float16: 65504.

    float8_e4m3fn is different ("fn": finite, no infinities): the all-ones exponent
    holds ordinary numbers and only the all-ones mantissa there means NaN. Work out
    what that makes its largest value (torch.finfo says 448).

    For a FloatFormat, its `specials` say which patterns are not numbers: the largest
    finite value is the largest pattern that is one (fp4 E2M1, with no special patterns
    at all: 6.0).
    """
    raise NotImplementedError("Problem 1 (tensors.max_finite): derive the largest finite value from the bit layout")


def smallest_normal(dtype: torch.dtype | FloatFormat) -> float:
    """The smallest positive normal number (torch.finfo(dtype).smallest_normal, also called tiny).

    The all-zeros exponent field is reserved for zero and the subnormals, so the
    smallest normal has stored exponent 1 and mantissa 1.000... (2**-14 for float16).
    """
    raise NotImplementedError("Problem 1 (tensors.smallest_normal): derive the smallest normal value from the bias")


def underflows_to_zero(value: float, dtype: torch.dtype | FloatFormat) -> bool:
    """Whether a non-zero finite `value` becomes 0 (or -0.0) when stored in `dtype`.

    Below the smallest normal come the subnormals: exponent field 0, no implicit
    leading 1, evenly spaced down to the smallest subnormal (only the last mantissa
    bit set). Storing a value rounds it to the nearest representable number; ties go
    to the one with an even mantissa. So a value underflows when |value| is at most half
    the smallest subnormal: below half it is closer to 0, and exactly half is a tie that
    goes to the even neighbour, 0 (the smallest subnormal's last mantissa bit is odd).

    Example: 1e-8 in float16 -> True (its smallest subnormal is 2**-24 ~ 6e-8);
    in bfloat16 -> False (float32's exponent range reaches far below 1e-8).
    Zero, infinities and NaN are not non-zero finite values: they never underflow (False).
    The same rule holds for every FloatFormat, whatever its `specials`.
    """
    raise NotImplementedError("Problem 1 (tensors.underflows_to_zero): underflow when |value| <= half the smallest subnormal (the tie goes to 0)")


# ---------------------------------------------------------------------------------------
# fp8 with a per-tensor scale. float8_e4m3fn reaches only 448 and float8_e5m2 57344, and
# their smallest subnormals are 2**-9 and 2**-16 (anything at most half of that, 2**-10 or
# 2**-17, rounds to 0): cast a tensor as it is and its large values overflow while its small
# ones vanish. fp8 training therefore multiplies each
# tensor by one float32 scale before the cast (and divides by it after), chosen so that
# the tensor's largest magnitude lands on the format's largest finite value.
#
# The annotations are jaxtyping's: `Float[Tensor, "*shape"]` is a float tensor of any
# shape, the same shape wherever "*shape" appears in one call; `Float[Tensor, ""]` is a
# 0-d tensor. Run your functions under the runtime checker to have them enforced:
#     from beartype import beartype
#     from jaxtyping import jaxtyped
#     checked = jaxtyped(typechecker=beartype)(fp8_scale)
# A test does exactly that: keep the annotations as they are.


def fp8_scale(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> Float[Tensor, ""]:
    """The per-tensor scale that maps the largest |x| onto max_finite(dtype).

    `dtype` is torch.float8_e4m3fn or torch.float8_e5m2 (anything else: ValueError).
    Return a 0-d float32 tensor on x's device. x may be any float dtype and shape; a
    tensor with no non-zero value (all zeros, or empty) needs no scaling: 1.0.
    Compute the scale in float32 (or wider) whatever x's dtype: the largest |x| of a
    bfloat16 or float16 x is exact, a division in its dtype is not (the tests want the
    scale within a relative 1e-6).
    One scale for the whole tensor: reducing over one axis only gives one scale per row,
    a shape bug the runtime checker reports.
    """
    raise NotImplementedError("Problem 1 (tensors.fp8_scale): the format's max over the tensor's largest magnitude")


def quantize_fp8(x: Float[Tensor, "*shape"], dtype: torch.dtype) -> tuple[Float[Tensor, "*shape"], Float[Tensor, ""]]:
    """(q, scale): x times its fp8_scale, rounded into `dtype`, and that scale.

    q has x's shape and dtype `dtype`. Multiply in float32, then cast with `.to(dtype)`.
    Without the scale, PyTorch's cast turns a float8_e5m2 value of 61440 or more into inf;
    float8_e4m3fn has no inf, and recent PyTorch clips it at 448, where older builds (this
    kit accepts torch from 2.4) may give NaN above 464. With the scale, the largest magnitude
    is the max up to one float32 rounding, which every build rounds back to the max (a clamp
    to [-max, max] is harmless).
    Values far below the largest one still underflow to 0: that is the price of one
    scale per tensor, and why fp8 recipes pick e5m2 (range) for gradients.
    """
    raise NotImplementedError("Problem 1 (tensors.quantize_fp8): scale in float32, then cast")


def dequantize_fp8(q: Float[Tensor, "*shape"], scale: Float[Tensor, ""]) -> Float[Tensor, "*shape"]:
    """The float32 values q stands for: undo the scale quantize_fp8 applied."""
    raise NotImplementedError("Problem 1 (tensors.dequantize_fp8): back to float32, undo the scale")
