"""Hypothesis strategies for every suite, gathered in one place.

Layouts are drawn non-contiguous on purpose (transposed, sliced, expanded), sizes
include 0 and 1, and named dims get distinct sizes so swapped axes cannot pass.
Each problem's strategies live in their own section below.
"""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import strategies as st

# --- shared -----------------------------------------------------------------------

FLOAT_DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 5):
    """Tensor shapes, size-0 and size-1 dims included."""
    return st.lists(
        st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims
    ).map(tuple)


def distinct_sizes(count: int, min_side: int = 2, max_side: int = 9):
    """`count` pairwise-distinct sizes, for dims that must not be confused."""
    return st.lists(
        st.integers(min_side, max_side), min_size=count, max_size=count, unique=True
    ).map(tuple)


class Layout(NamedTuple):
    """A strided view of a storage: what a tensor's metadata says."""

    shape: tuple[int, ...]
    strides: tuple[int, ...]
    storage_offset: int


# --- tensors ----------------------------------------------------------------------

import math  # noqa: E402

import torch  # noqa: E402
from hypothesis import assume  # noqa: E402

# Every dtype bytes_per_element must know, and a few it must refuse.
SIZED_DTYPE_NAMES = FLOAT_DTYPE_NAMES + ("int64", "int32", "int16", "int8", "uint8", "bool")
UNSUPPORTED_DTYPE_NAMES = ("complex64", "complex128", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32")


def float_dtypes():
    """The six floating-point dtypes of the spec."""
    return st.sampled_from(FLOAT_DTYPE_NAMES).map(lambda name: getattr(torch, name))


def sized_dtypes():
    """Every dtype bytes_per_element supports."""
    return st.sampled_from(SIZED_DTYPE_NAMES).map(lambda name: getattr(torch, name))


def underflow_boundary(dtype: torch.dtype) -> float:
    """Half the smallest subnormal: the largest magnitude that rounds to 0 (a tie, to even)."""
    info = torch.finfo(dtype)
    return info.smallest_normal * info.eps / 2  # 0.0 for float64: 2**-1075 is not a float64


@st.composite
def underflow_cases(draw, min_gap: float = 1e-3):
    """(value, dtype) with value non-zero, finite, and at least `min_gap` (relative) away from
    the underflow boundary. The spec promises 1e-6; we keep 1e-3 because PyTorch rounds a
    float64 to bfloat16 through float32, whose subnormals near bfloat16's boundary (2**-134)
    have only ~2**-15 relative precision, so closer values could round twice."""
    dtype = draw(float_dtypes())
    boundary = underflow_boundary(dtype)
    if boundary > 0 and draw(st.booleans()):
        # Near the boundary, where the interesting cases are: within a factor of 2**6.
        log_ratio = draw(st.floats(-6, 6).filter(lambda r: abs(r) > 2 * min_gap))
        magnitude = boundary * 2.0**log_ratio
    else:
        magnitude = 2.0 ** draw(st.floats(-1074, 1023))
    sign = draw(st.sampled_from((1.0, -1.0)))
    value = sign * magnitude
    if boundary > 0:
        assume(abs(abs(value) / boundary - 1) > min_gap)
    assume(value != 0 and math.isfinite(value))
    return value, dtype


class FloatFormat(NamedTuple):
    """The API's FloatFormat as the tests pass it: a NamedTuple with the four fields (an
    implementation is given this class, not its own, and must read it by field name)."""

    sign_bits: int
    exponent_bits: int
    mantissa_bits: int
    specials: str = "ieee"


SPECIALS = ("ieee", "nan_only", "none")
# The OCP Microscaling (MX) element formats PyTorch has no finfo for: no inf, no NaN.
MX_FORMATS = {
    "fp4_e2m1": FloatFormat(1, 2, 1, "none"),
    "fp6_e2m3": FloatFormat(1, 2, 3, "none"),
    "fp6_e3m2": FloatFormat(1, 3, 2, "none"),
}


@st.composite
def float_formats(draw, max_bits: int = 16):
    """Valid FloatFormats of at most `max_bits` bits (few enough patterns to decode them all):
    any `specials`, 2 or more exponent bits, 0 or more mantissa bits."""
    exponent = draw(st.integers(2, min(8, max_bits - 1)))
    mantissa = draw(st.integers(0, max_bits - 1 - exponent))
    return FloatFormat(1, exponent, mantissa, draw(st.sampled_from(SPECIALS)))


# fp8 per-tensor scaling: values spread over many binades, so that scaling decides what
# overflows and what underflows; exact zeros and empty tensors included.
FP8_DTYPE_NAMES = ("float8_e4m3fn", "float8_e5m2")
FP8_SOURCE_DTYPE_NAMES = ("float32", "bfloat16", "float16")


@st.composite
def fp8_inputs(draw, max_side: int = 5):
    """(x, fp8 dtype name): a float tensor whose magnitudes span up to 40 binades around a drawn centre."""
    source = draw(st.sampled_from(FP8_SOURCE_DTYPE_NAMES))
    shape = draw(shapes(0, 3, 0, max_side))
    count = math.prod(shape)
    centre = draw(st.integers(-12, 6) if source == "float16" else st.integers(-40, 40))
    spread = draw(st.integers(0, 20))
    exponents = draw(st.lists(st.floats(-spread, spread), min_size=count, max_size=count))
    signs = draw(st.lists(st.sampled_from([1.0, -1.0, 0.0]) if count > 1 else st.just(1.0), min_size=count, max_size=count))
    values = [sign * 2.0 ** (centre + e) for sign, e in zip(signs, exponents)]
    top = torch.finfo(getattr(torch, source)).max / 2  # finite in the source dtype
    x = torch.tensor(values, dtype=torch.float64).reshape(shape).clamp(-top, top).to(getattr(torch, source))
    return x, draw(st.sampled_from(FP8_DTYPE_NAMES))


def near_fp8_rounding_boundary(scaled: torch.Tensor, dtype: torch.dtype, gap: float = 1e-5) -> torch.Tensor:
    """Where x * scale lies within a relative `gap` of a point where the cast to `dtype` changes.

    There, float32 rounding of the product (the student's or ours) may pick either neighbour.
    """
    top = torch.finfo(dtype).max
    below = (scaled * (1 - gap)).clamp(-top, top).float().to(dtype).float()
    above = (scaled * (1 + gap)).clamp(-top, top).float().to(dtype).float()
    return below != above


# --- strides ----------------------------------------------------------------------


def layout_storage_size(layout: Layout) -> int:
    """Elements a storage needs to hold every element of `layout` (at least 1)."""
    if 0 in layout.shape:
        return layout.storage_offset + 1
    last = sum((size - 1) * stride for size, stride in zip(layout.shape, layout.strides))
    return layout.storage_offset + last + 1


@st.composite
def strided_layouts(draw, min_dims: int = 0, max_dims: int = 4, max_side: int = 5):
    """Layouts a real tensor can have, mostly non-contiguous: a contiguous block, then
    sliced with steps (size-0 and size-1 dims appear), permuted, size-1 dims expanded
    to stride 0, and extra size-1 dims with arbitrary strides."""
    ndim = draw(st.integers(min_dims, max_dims))
    base = draw(shapes(ndim, ndim, min_side=1, max_side=max_side))
    shape, strides, offset = [], [], 0
    step_stride = 1
    base_strides = []
    for size in reversed(base):
        base_strides.append(step_stride)
        step_stride *= size
    base_strides.reverse()
    for size, stride in zip(base, base_strides):
        if draw(st.booleans()):  # x[start:stop:step] along this dim
            step = draw(st.integers(1, 3))
            start = draw(st.integers(0, size - 1))
            empty = draw(st.integers(0, 5)) == 0  # now and then, a size-0 dim
            stop = start if empty else draw(st.integers(start + 1, size))
            offset += start * stride
            shape.append(len(range(start, stop, step)))
            strides.append(stride * step)
        else:
            shape.append(size)
            strides.append(stride)
    order = draw(st.permutations(range(ndim)))
    shape = [shape[i] for i in order]
    strides = [strides[i] for i in order]
    for d in range(ndim):  # expand: a size-1 dim repeated with stride 0
        if shape[d] == 1 and draw(st.booleans()):
            shape[d], strides[d] = draw(st.integers(0, 4)), 0
    while len(shape) < max_dims and draw(st.booleans()):  # unsqueeze, any stride
        at = draw(st.integers(0, len(shape)))
        shape.insert(at, 1)
        strides.insert(at, draw(st.integers(0, 12)))
    return Layout(tuple(shape), tuple(strides), offset)


def transpose_dims(ndim: int):
    """A dim for transpose: -ndim .. ndim-1, and for a 0-d layout 0 or -1 (PyTorch lets a
    0-d tensor name dims 0 and -1, as if it had one dim: transpose(0, -1) is a no-op)."""
    rank = max(ndim, 1)
    return st.integers(-rank, rank - 1)


def view_addressing_error(new_shape, got, want) -> str | None:
    """Why the strides `got` do not address the view like PyTorch's `want`, or None if they do.

    The spec accepts any stride on a dim of size 1: it is never stepped along, so it never
    moves an address. Every other dim must step like PyTorch's. For a non-empty view that is
    the same as every element having PyTorch's storage offset, which is checked element by
    element; an empty view has no elements, so its strides are compared on dims of size > 1.
    """
    if not isinstance(got, (tuple, list)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in got):
        return f"expected a tuple of ints, got {got!r}"
    if len(got) != len(new_shape):
        return f"{len(got)} strides for a view with {len(new_shape)} dims"
    if new_shape and 0 not in new_shape:
        index_grids = torch.meshgrid(*(torch.arange(size) for size in new_shape), indexing="ij")
        offsets = [sum((i * s for i, s in zip(index_grids, strides)), torch.zeros(new_shape, dtype=torch.long))
                   for strides in (got, want)]
        if not torch.equal(*offsets):
            at = tuple(int(i) for i in (offsets[0] != offsets[1]).nonzero()[0])
            return f"element {at} would be read from the wrong place (dims of size > 1 must step as PyTorch's)"
    wrong = [d for d, size in enumerate(new_shape) if size != 1 and got[d] != want[d]]
    if wrong:
        return f"dim {wrong[0]} (size {new_shape[wrong[0]]}) has stride {got[wrong[0]]}, PyTorch's is {want[wrong[0]]}"
    return None


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0] if n > 0 else [1, 2, 3]


@st.composite
def view_shapes(draw, shape: tuple[int, ...], max_dims: int = 6):
    """New shapes for `view`: regroupings of `shape` (merge, flatten, split, add or drop 1s),
    sometimes with one -1, sometimes (rarely) a shape whose element count is wrong."""
    if draw(st.integers(0, 3)) == 0:
        return (-1,)  # flatten: a view only when the layout is a single chunk
    dims = list(shape)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(("merge", "merge", "flatten", "split", "insert1", "drop1")))
        if op == "flatten" and dims:
            dims = [math.prod(dims)]
        elif op == "merge" and len(dims) >= 2:
            i = draw(st.integers(0, len(dims) - 2))
            dims[i : i + 2] = [dims[i] * dims[i + 1]]
        elif op == "split" and dims and len(dims) < max_dims:
            i = draw(st.integers(0, len(dims) - 1))
            a = draw(st.sampled_from(_divisors(dims[i])))
            dims[i : i + 1] = [a, dims[i] // a] if dims[i] else draw(st.permutations([a, 0]))
        elif op == "insert1" and len(dims) < max_dims:
            dims.insert(draw(st.integers(0, len(dims))), 1)
        elif op == "drop1" and 1 in dims:
            dims.remove(1)
    if dims and draw(st.integers(0, 3)) == 0:
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    if dims and draw(st.integers(0, 9)) == 0:
        dims[draw(st.integers(0, len(dims) - 1))] = draw(st.integers(-2, 7))
    return tuple(dims)


# --- named_dims -------------------------------------------------------------------

NAMED_DIMS_DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16")
# How a test tensor is laid out in memory: einsum/einops must not care.
NAMED_DIMS_LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")


def batch_shapes(max_dims: int = 2, max_side: int = 3):
    """Leading `...` dims: none, one or two of them, sizes 0 and 1 included."""
    return shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side)


def named_dims_layouts():
    return st.sampled_from(NAMED_DIMS_LAYOUTS)


def named_dims_dtypes():
    return st.sampled_from(NAMED_DIMS_DTYPE_NAMES)


# --- flops ------------------------------------------------------------------------


def flop_sizes(max_side: int = 4096):
    """Matrix sides for FLOP formulas, 0 and 1 included (checked on the meta device)."""
    return st.integers(0, max_side)


def model_scales():
    """Parameter or token counts, from toy to frontier scale."""
    return st.floats(1.0, 1e16, allow_nan=False, allow_infinity=False)


# --- model ------------------------------------------------------------------------


def linear_sizes():
    """(d_in, d_out, batch_shape): distinct d_in and d_out, any number of batch dims."""
    return st.tuples(distinct_sizes(2, min_side=1, max_side=9), shapes(0, 3, 0, 4)).map(
        lambda drawn: (drawn[0][0], drawn[0][1], drawn[1])
    )


# --- optimizers -------------------------------------------------------------------


class OptimizerProblem(NamedTuple):
    """Parameters and gradients to optimise, described by plain values (tensors come from
    `optimizer_tensors`, seeded, so hypothesis never draws tensors element by element)."""

    shapes: tuple[tuple[int, ...], ...]  # one per parameter; () and size-0 dims included
    dtype: str  # "float32" or "float64"
    seed: int
    num_steps: int
    none_every: tuple[int, ...]  # per parameter: 0 never None, 1 always, k: None when step % k == 0
    groups: tuple | None  # None: a plain parameter list; else ((indices, lr or None), ...)


@st.composite
def _optimizer_problems(draw, min_steps, max_steps, allow_none):
    count = draw(st.integers(1, 3))
    param_shapes = tuple(draw(shapes(0, 3, 0, 4)) for _ in range(count))
    none_every = tuple(
        draw(st.sampled_from((0, 0, 1, 2, 3)) if allow_none else st.just(0)) for _ in range(count)
    )
    groups = None
    if draw(st.booleans()):
        labels = draw(st.lists(st.integers(0, 2), min_size=count, max_size=count))
        lrs = st.one_of(st.none(), st.floats(1e-4, 1e-1))
        groups = tuple(
            (tuple(i for i, label in enumerate(labels) if label == group), draw(lrs))
            for group in sorted(set(labels))
        )
        if draw(st.booleans()):  # an empty group, which PyTorch accepts
            groups = groups + (((), draw(lrs)),)
    return OptimizerProblem(
        shapes=param_shapes,
        dtype=draw(st.sampled_from(("float32", "float64"))),
        seed=draw(st.integers(0, 2**16)),
        num_steps=draw(st.integers(min_steps, max_steps)),
        none_every=none_every,
        groups=groups,
    )


def optimizer_problems(min_steps: int = 1, max_steps: int = 12, allow_none: bool = True):
    """Problems with 1-3 parameters, some grads None, optional param groups (one may be empty)."""
    return _optimizer_problems(min_steps, max_steps, allow_none)


def optimizer_tensors(problem: OptimizerProblem, device) -> tuple[list, list]:
    """Initial parameters and per-step gradients (None where the problem says), from its seed.

    Gradient scales vary per parameter (1e-2 .. 10) and about 10% of entries are exactly 0."""
    import torch

    gen = torch.Generator().manual_seed(problem.seed)
    dtype = getattr(torch, problem.dtype)
    params = [torch.randn(shape, generator=gen, dtype=dtype).to(device) for shape in problem.shapes]
    scales = [10 ** (3 * torch.rand((), generator=gen).item() - 2) for _ in problem.shapes]
    grads = []
    for step in range(problem.num_steps):
        row = []
        for shape, scale, every in zip(problem.shapes, scales, problem.none_every):
            g = torch.randn(shape, generator=gen, dtype=dtype) * scale
            g = g * (torch.rand(shape, generator=gen) > 0.1)
            row.append(None if every and step % every == 0 else g.to(device))
        grads.append(row)
    return params, grads


def optimizer_groups(problem: OptimizerProblem):
    """The problem's groups in the drivers' form: [{"indices": [...], "lr": ...}, ...]."""
    if problem.groups is None:
        return None
    return [
        {"indices": list(indices), **({} if lr is None else {"lr": lr})}
        for indices, lr in problem.groups
    ]


def sgd_hyperparameters():
    return st.fixed_dictionaries({"lr": st.floats(0.0, 0.5)})


def adagrad_hyperparameters():
    # eps up to 1: large enough that eps inside vs outside the root differ visibly.
    return st.fixed_dictionaries({"lr": st.floats(0.0, 0.5), "eps": st.floats(1e-10, 1.0)})


def adamw_hyperparameters():
    # beta2 >= 0.5: with beta2 near 0, an exactly-zero grad makes v vanish while m does not,
    # so the step m / (sqrt(v) + eps) explodes and any two correct float32 formulations of
    # AdamW part ways. (betas (0, 0) is safe, since m vanishes too: tests use it as an @example.)
    return st.fixed_dictionaries(
        {
            "lr": st.floats(0.0, 0.1),
            "betas": st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999)),
            "eps": st.floats(1e-10, 1e-1),
            "weight_decay": st.floats(0.0, 1.0),
        }
    )


# --- accounting -------------------------------------------------------------------

ACCOUNTING_OPTIMIZERS = ("sgd", "adagrad", "adamw")


def cruncher_sizes(max_batch: int = 6, max_dim: int = 7, max_layers: int = 4):
    """(batch_size, dim, num_layers) for a Cruncher; 0 layers (head only) and size 1 included."""
    return st.tuples(st.integers(1, max_batch), st.integers(1, max_dim), st.integers(0, max_layers))


def parameter_shapes():
    """Shapes of a few parameters, scalars and size-1 dims included."""
    return st.lists(shapes(min_dims=0, max_dims=3, min_side=1, max_side=6), min_size=0, max_size=4)


# --- training ---------------------------------------------------------------------


def token_datasets(min_len: int = 2, max_len: int = 60):
    """(dataset dtype name, length, seed): token arrays in the dtypes datasets are stored in."""
    return st.tuples(
        st.sampled_from(("uint16", "int32", "int64")),
        st.integers(min_len, max_len),
        st.integers(0, 2**16),
    )
