"""Problem 2: strides, views and storage (grading suite).

Oracles are real tensors built with torch.as_strided over a storage big enough for
the layout (size-0 dims included); the reference is checked against the same oracle.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.strategies import (Layout, layout_storage_size, shapes, strided_layouts, transpose_dims,
                              view_addressing_error, view_shapes)

pytestmark = pytest.mark.strides

# A Layout for @example: (shape, strides, storage_offset).
L = Layout


def as_tensor(layout, device="cpu"):
    """A real tensor with exactly this layout; storage element k holds the value k."""
    storage = torch.arange(layout_storage_size(layout), device=device)
    return storage.as_strided(layout.shape, layout.strides, layout.storage_offset)


def outcome(call):
    """A call's result with tuples normalised, or the exception type it raised."""
    try:
        result = call()
    except (ValueError, IndexError) as error:
        return type(error)
    if isinstance(result, (tuple, list)):
        return tuple(tuple(r) if isinstance(r, (tuple, list)) else r for r in result)
    return result


def torch_outcome(call):
    """PyTorch's answer, its errors mapped as the spec says: IndexError stays, the rest is ValueError."""
    try:
        return call()
    except IndexError:
        return IndexError
    except RuntimeError:
        return ValueError


def check(impl_call, ref_call, want, call):
    """The reference must match the oracle (else the staff have a bug), then the implementation."""
    ref_got = outcome(ref_call)
    assert ref_got == want, f"REFERENCE BUG: {call} gives {ref_got!r}, PyTorch says {want!r}"
    got = outcome(impl_call)
    assert got == want, f"{call} = {got!r}, expected {want!r}"


# --- contiguous_strides, flat_offset ----------------------------------------------


@given(shape=shapes(max_dims=6, max_side=6))
@example(shape=(2, 0, 3))
@example(shape=(0,))
@example(shape=())
@example(shape=(0, 0, 4))
@example(shape=(5, 1, 1, 3))
def test_contiguous_strides_matches_torch(impl, ref, shape):
    """contiguous_strides must equal torch.empty(shape).stride(), where a size-0 dim multiplies as if it were 1."""
    want = torch.empty(shape).stride()
    check(lambda: impl.strides.contiguous_strides(shape), lambda: ref.strides.contiguous_strides(shape), want,
          f"contiguous_strides({shape})")


@given(layout=strided_layouts().filter(lambda layout: 0 not in layout.shape), data=st.data())
@example(layout=L((3, 4), (1, 3), 5), data=None)
@example(layout=L((2, 3), (0, 1), 2), data=None)  # an expanded dim: stride 0
@example(layout=L((), (), 7), data=None)  # a 0-d tensor: just the offset
def test_flat_offset_matches_storage_index(impl, ref, layout, data):
    """flat_offset(index, strides, offset) must be the storage position of element [index], for any layout."""
    if data is None:
        index = tuple(size - 1 for size in layout.shape)
    else:
        index = tuple(data.draw(st.integers(0, size - 1)) for size in layout.shape)
    want = as_tensor(layout)[index].item()  # storage element k holds the value k
    check(lambda: impl.strides.flat_offset(index, layout.strides, layout.storage_offset),
          lambda: ref.strides.flat_offset(index, layout.strides, layout.storage_offset), want,
          f"flat_offset({index}, {layout.strides}, {layout.storage_offset})")


def test_flat_offset_default_offset_and_length_mismatch(impl, ref):
    """storage_offset defaults to 0, and an index whose length differs from the strides' must raise ValueError."""
    check(lambda: impl.strides.flat_offset((1, 2), (5, 1)), lambda: ref.strides.flat_offset((1, 2), (5, 1)), 7,
          "flat_offset((1, 2), (5, 1))")
    for index, strides in [((1, 2), (3, 1, 1)), ((0, 0, 0), (1, 1)), ((), (1,))]:
        check(lambda: impl.strides.flat_offset(index, strides), lambda: ref.strides.flat_offset(index, strides),
              ValueError, f"flat_offset({index}, {strides})")


# --- is_contiguous, transpose, narrow ---------------------------------------------


@given(layout=strided_layouts(max_dims=5))
@example(layout=L((2, 0, 3), (7, 9, 11), 0))  # empty: contiguous whatever the strides
@example(layout=L((0,), (5,), 0))
@example(layout=L((3, 1, 4), (4, 99, 1), 0))  # a size-1 dim's stride is ignored
@example(layout=L((1, 1), (5, 3), 0))
@example(layout=L((), (), 3))
@example(layout=L((4, 3), (1, 4), 0))  # transposed
@example(layout=L((2, 3), (3, 1), 4))  # an offset does not matter
@example(layout=L((3, 2), (0, 1), 0))  # expanded: stride 0
@example(layout=L((2, 3), (6, 2), 0))  # a step-2 slice of the last dim
def test_is_contiguous_matches_torch(impl, ref, layout):
    """is_contiguous must agree with Tensor.is_contiguous() on any layout: size-1 dims ignored, empty tensors contiguous."""
    want = as_tensor(layout).is_contiguous()
    check(lambda: impl.strides.is_contiguous(layout.shape, layout.strides),
          lambda: ref.strides.is_contiguous(layout.shape, layout.strides), want,
          f"is_contiguous({layout.shape}, {layout.strides})")


@given(layout=strided_layouts(), data=st.data())
@example(layout=L((2, 3, 4), (12, 4, 1), 0), data=None)
@example(layout=L((), (), 3), data=None)  # 0-d: transpose(-1, 0) is a no-op in PyTorch
def test_transpose_matches_torch(impl, ref, layout, data):
    """transpose must give Tensor.transpose(dim0, dim1)'s shape and strides, with negative dims, dim0 == dim1 and 0-d tensors (dims 0 and -1: a no-op) allowed."""
    ndim = len(layout.shape)
    if data is None:
        dim0, dim1 = -1, 0
    else:
        dim0, dim1 = data.draw(transpose_dims(ndim)), data.draw(transpose_dims(ndim))
    t = as_tensor(layout).transpose(dim0, dim1)
    want = (tuple(t.shape), t.stride())
    check(lambda: impl.strides.transpose(layout.shape, layout.strides, dim0, dim1),
          lambda: ref.strides.transpose(layout.shape, layout.strides, dim0, dim1), want,
          f"transpose({layout.shape}, {layout.strides}, {dim0}, {dim1})")


@pytest.mark.parametrize("shape, dim0, dim1", [((2, 3), 2, 0), ((2, 3), 0, -3), ((4,), 1, 0), ((2, 3, 4), -4, 1)])
def test_transpose_dim_out_of_range_raises_index_error(impl, ref, shape, dim0, dim1):
    """A dim outside [-ndim, ndim) must raise IndexError, as PyTorch does; the refusal pays only where transpose also answers a valid call."""
    strides = torch.empty(shape).stride()
    want = torch_outcome(lambda: torch.empty(shape).transpose(dim0, dim1))
    assert want is IndexError
    check(lambda: impl.strides.transpose(shape, strides, dim0, dim1),
          lambda: ref.strides.transpose(shape, strides, dim0, dim1), want,
          f"transpose({shape}, {strides}, {dim0}, {dim1})")
    valid = torch.empty(shape).transpose(0, -1)
    check(lambda: impl.strides.transpose(shape, strides, 0, -1), lambda: ref.strides.transpose(shape, strides, 0, -1),
          (tuple(valid.shape), valid.stride()), f"transpose({shape}, {strides}, 0, -1)")


@given(layout=strided_layouts(min_dims=1), data=st.data())
@example(layout=L((4, 5), (5, 1), 3), data=(1, 5, 0))  # start == size with length 0
@example(layout=L((4, 5), (5, 1), 0), data=(-1, -2, 2))  # negative dim and start
@example(layout=L((0, 3), (3, 1), 0), data=(0, 0, 0))
@example(layout=L((3, 2), (0, 1), 1), data=(0, 1, 2))  # stride 0: the offset does not move
def test_narrow_matches_torch(impl, ref, layout, data):
    """narrow must give Tensor.narrow's shape, strides and storage offset, for negative dims and negative starts too."""
    ndim = len(layout.shape)
    if isinstance(data, tuple):
        dim, start, length = data
    else:
        dim = data.draw(st.integers(-ndim, ndim - 1))
        size = layout.shape[dim]
        start = data.draw(st.integers(-size, size))
        length = data.draw(st.integers(0, size - start % size if start < 0 else size - start))
    t = as_tensor(layout).narrow(dim, start, length)
    want = (tuple(t.shape), t.stride(), t.storage_offset())
    args = (layout.shape, layout.strides, layout.storage_offset, dim, start, length)
    check(lambda: impl.strides.narrow(*args), lambda: ref.strides.narrow(*args), want, f"narrow{args}")


@pytest.mark.parametrize(
    "shape, dim, start, length, errors",
    [
        ((4, 5), 2, 0, 1, IndexError),  # dim out of range
        ((4, 5), -3, 0, 1, IndexError),
        ((4, 5), 0, 2, 3, ValueError),  # start + length > size
        ((4, 5), 1, 0, -1, ValueError),  # negative length
        ((4, 5), 0, 5, 0, (IndexError, ValueError)),  # start out of range: PyTorch says IndexError; the spec allows either
        ((4, 5), 0, -5, 1, (IndexError, ValueError)),
        ((), 0, 0, 1, ValueError),  # a 0-d tensor cannot be narrowed (PyTorch: RuntimeError, an invalid argument)
        ((), -1, 0, 1, ValueError),
    ],
)
def test_narrow_errors_match_torch(impl, ref, shape, dim, start, length, errors):
    """narrow must raise IndexError for a dim out of range and ValueError for a length that does not fit or a 0-d tensor; the refusal pays only where narrow also answers a valid call."""
    x = torch.empty(shape)
    want = torch_outcome(lambda: x.narrow(dim, start, length))
    assert isinstance(want, type) and (issubclass(want, errors) or (shape == () and want is RuntimeError))
    for side in (ref, impl):
        with pytest.raises(errors):
            side.strides.narrow(shape, x.stride(), 0, dim, start, length)
    valid = torch.empty(4, 5).narrow(1, 1, 3)
    check(lambda: impl.strides.narrow((4, 5), (5, 1), 2, 1, 1, 3), lambda: ref.strides.narrow((4, 5), (5, 1), 2, 1, 1, 3),
          (tuple(valid.shape), valid.stride(), 2 + valid.storage_offset()), "narrow((4, 5), (5, 1), 2, 1, 1, 3)")


# --- view ---------------------------------------------------------------------------


def torch_view_strides(layout, new_shape):
    """What Tensor.view says: its strides, None if it needs a copy, ValueError if counts can't match."""
    try:
        return as_tensor(layout).view(new_shape).stride()
    except RuntimeError as error:
        return None if "view size is not compatible" in str(error) else ValueError


def view_outcome(call, view_shape, want):
    """A view's outcome in the oracle's terms: strides that address every element as PyTorch's
    count as PyTorch's (a size-1 dim may take any stride); otherwise the outcome itself."""
    got = outcome(call)
    if isinstance(want, tuple) and isinstance(got, tuple) and view_addressing_error(view_shape, got, want) is None:
        return want
    return got


def check_view(impl, ref, layout, new_shape):
    """The reference, then the implementation, against Tensor.view (strides, None for a copy, ValueError)."""
    want = torch_view_strides(layout, new_shape)
    view_shape = tuple(as_tensor(layout).view(new_shape).shape) if isinstance(want, tuple) else None
    call = f"view({layout.shape}, {layout.strides}, {new_shape})"
    args = (layout.shape, layout.strides, new_shape)
    check(lambda: view_outcome(lambda: impl.strides.view(*args), view_shape, want),
          lambda: view_outcome(lambda: ref.strides.view(*args), view_shape, want), want, call)


VIEW_EXAMPLES = [
    (L((4, 5), (5, 1), 0), (2, 10)),
    (L((4, 5), (1, 4), 0), (20,)),  # transposed: needs a copy
    (L((4, 5), (1, 4), 0), (1, 4, 5, 1)),  # size-1 dims: any stride, the others as PyTorch's
    (L((2, 3, 4), (24, 4, 1), 0), (2, 12)),
    (L((2, 3, 4), (24, 4, 1), 0), (6, 4)),
    (L((3, 1, 4), (4, 7, 1), 0), (12,)),  # a size-1 dim's stride does not split a chunk
    (L((3, 1, 4), (4, 7, 1), 0), (3, 4, 1)),
    (L((2, 3), (0, 1), 0), (6,)),  # expanded dim: needs a copy
    (L((2, 3), (0, 1), 0), (2, 3, 1)),
    (L((3, 2), (1, 0), 0), (3, 1, 2)),
    (L((2, 0, 3), (7, 9, 11), 0), (2, 0, 3)),  # empty, same shape: strides kept
    (L((2, 0, 3), (7, 9, 11), 0), (0, 6)),  # empty, new shape: contiguous strides
    (L((2, 0, 3), (7, 9, 11), 0), (3, -1, 2)),
    (L((), (), 4), (1, 1)),  # a 0-d tensor: every stride 1
    (L((), (), 4), ()),
    (L((1,), (5,), 0), ()),
    (L((1, 1), (3, 9), 0), (-1,)),
    (L((6,), (2,), 1), (2, 3)),  # a stepped slice: still one chunk
    (L((4, 5), (5, 1), 0), (-1, 2, 5)),
    (L((4, 5), (5, 1), 0), (3, -1)),  # -1 that does not divide
    (L((4, 5), (5, 1), 0), (-1, -1)),  # two -1s
    (L((4, 5), (5, 1), 0), (3, 7)),  # wrong count
    (L((0, 3), (3, 1), 0), (0, -1)),  # -1 next to 0 is ambiguous
    (L((0, 3), (3, 1), 0), (-1, 3)),  # ... but here it is 0
    (L((4, 5), (5, 1), 0), (0, -1)),
]


@settings(max_examples=150)
@given(layout=strided_layouts(max_dims=4), data=st.data())
def test_view_matches_torch(impl, ref, layout, data):
    """view must address every element as Tensor.view does (size-0 and stride-0 dims included; a size-1 dim may take any stride), or give None where PyTorch needs a copy."""
    check_view(impl, ref, layout, data.draw(view_shapes(layout.shape)))


@pytest.mark.parametrize("layout, new_shape", VIEW_EXAMPLES[:18])
def test_view_edge_cases_match_torch(impl, ref, layout, new_shape):
    """view's edge cases: transposed and expanded layouts, size-1 dims with odd strides, empty and 0-d tensors, stepped slices."""
    check_view(impl, ref, layout, new_shape)


@pytest.mark.parametrize("layout, new_shape", VIEW_EXAMPLES[18:])
def test_view_infers_minus_one_or_raises_value_error(impl, ref, layout, new_shape):
    """A single -1 is inferred from the element count; two -1s, a -1 that does not divide (or sits next to a 0), or a wrong count raise ValueError."""
    check_view(impl, ref, layout, new_shape)


# --- shares_storage -----------------------------------------------------------------


def storage_pairs(device):
    """(label, a, b): views, copies, clones and separate storages, all non-empty."""
    x = torch.arange(24.0, device=device).view(4, 6)
    y = torch.arange(24.0, device=device).view(4, 6)  # equal values, another storage
    return [
        ("x, x", x, x),
        ("x, x.t()", x, x.t()),
        ("x, x[1:, ::2]", x, x[1:, ::2]),
        ("x[:2], x[2:]", x[:2], x[2:]),
        ("x[3, 5:], x[0, :1]", x[3, 5:], x[0, :1]),
        ("x, x.view(2, 12)", x, x.view(2, 12)),
        ("x, x.narrow(1, 2, 3)", x, x.narrow(1, 2, 3)),
        ("x[0:1], x[0:1].expand(5, 6)", x[0:1], x[0:1].expand(5, 6)),
        ("x, x.view(torch.int32)", x, x.view(torch.int32)),
        ("x.t(), x.t().reshape(24)", x.t(), x.t().reshape(24)),  # reshape copies here
        ("x, x.reshape(24)", x, x.reshape(24)),  # ... and views here
        ("x, x.clone()", x, x.clone()),
        ("x, x.contiguous()", x, x.contiguous()),  # already contiguous: x itself
        ("x.t(), x.t().contiguous()", x.t(), x.t().contiguous()),
        ("x, x.to(torch.float64)", x, x.to(torch.float64)),
        ("x, x + 0", x, x + 0),
        ("x, y", x, y),
        ("x[1:], y[1:]", x[1:], y[1:]),
        ("x, torch.empty_like(x)", x, torch.empty_like(x)),
    ]


def test_shares_storage_matches_torch_storage(impl, ref, device):
    """shares_storage must be True for any two views of one storage (even disjoint slices) and False for copies and separate tensors."""
    pairs = storage_pairs(device)
    answers = impl.each(*((impl.strides.shares_storage, *args) for _, a, b in pairs for args in ((a, b), (b, a))))  # one round trip
    for index, (label, a, b) in enumerate(pairs):
        want = a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
        for side, got, got_swapped in ((ref, ref.strides.shares_storage(a, b), ref.strides.shares_storage(b, a)),
                                       (impl, answers[2 * index], answers[2 * index + 1])):
            assert got == want, f"{side}: shares_storage({label}) on {device}, expected {want}"
            assert got_swapped == want, f"{side}: shares_storage({label}) swapped on {device}, expected {want}"


# --- invalid arguments ----------------------------------------------------------------


def test_invalid_layouts_raise_value_error(impl, ref):
    """Shapes and strides of different lengths, or negative sizes, are invalid arguments: ValueError, never a wrong answer. The refusals pay only where each function also answers a valid call."""
    calls = [
        ("is_contiguous((2, 3), (3,))", lambda s: s.is_contiguous((2, 3), (3,))),
        ("transpose((2, 3), (3, 1, 1), 0, 1)", lambda s: s.transpose((2, 3), (3, 1, 1), 0, 1)),
        ("narrow((2, 3), (1,), 0, 0, 0, 1)", lambda s: s.narrow((2, 3), (1,), 0, 0, 0, 1)),
        ("view((2, 3), (3, 1, 1), (6,))", lambda s: s.view((2, 3), (3, 1, 1), (6,))),
        ("contiguous_strides((2, -1))", lambda s: s.contiguous_strides((2, -1))),
        ("view((4,), (1,), (-2, -2))", lambda s: s.view((4,), (1,), (-2, -2))),
    ]
    for label, call in calls:
        for side in (ref, impl):
            with pytest.raises(ValueError):
                call(side.strides)
                pytest.fail(f"{side}: {label} returned instead of raising ValueError")
    x = torch.empty(2, 3)
    valid = [
        ("is_contiguous((2, 3), (3, 1))", lambda s: s.is_contiguous((2, 3), (3, 1)), True),
        ("transpose((2, 3), (3, 1), 0, 1)", lambda s: s.transpose((2, 3), (3, 1), 0, 1), ((3, 2), x.t().stride())),
        ("narrow((2, 3), (3, 1), 0, 0, 1, 1)", lambda s: s.narrow((2, 3), (3, 1), 0, 0, 1, 1), ((1, 3), (3, 1), 3)),
        ("view((2, 3), (3, 1), (6,))", lambda s: s.view((2, 3), (3, 1), (6,)), x.view(6).stride()),
        ("contiguous_strides((2, 3))", lambda s: s.contiguous_strides((2, 3)), x.stride()),
    ]
    for label, call, want in valid:
        check(lambda: call(impl.strides), lambda: call(ref.strides), want, label)
