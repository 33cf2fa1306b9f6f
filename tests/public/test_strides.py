"""Problem 2: strides, views and storage (public tests).

The oracle is always a real tensor: torch.as_strided builds the layout over a storage
big enough for it, and PyTorch's own stride()/is_contiguous()/narrow()/view() answer.
"""

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from tests.strategies import (Layout, layout_storage_size, strided_layouts, transpose_dims, view_addressing_error,
                              view_shapes)

pytestmark = pytest.mark.strides


def as_tensor(layout, device="cpu"):
    """A real tensor with exactly this layout; storage element k holds the value k."""
    storage = torch.arange(layout_storage_size(layout), device=device)
    return storage.as_strided(layout.shape, layout.strides, layout.storage_offset)


def torch_view_strides(layout, new_shape):
    """What Tensor.view says: its strides, None if it needs a copy, ValueError if counts can't match."""
    try:
        return as_tensor(layout).view(new_shape).stride()
    except RuntimeError as error:
        return None if "view size is not compatible" in str(error) else ValueError


@pytest.mark.parametrize("shape", [(2, 0, 3), (4, 5), (), (1,), (3, 1, 2, 5)])
def test_contiguous_strides_worked_examples(impl, shape):
    """Row-major strides: each dim's stride is the product of the sizes after it (PyTorch counts a size-0 dim as 1)."""
    got = impl.strides.contiguous_strides(shape)
    want = torch.empty(shape).stride()
    assert tuple(got) == want, (
        f"contiguous_strides({shape}) = {got}, expected {want} (torch.empty({shape}).stride()). "
        f"Hint: walk from the last dim; multiply by max(size, 1)."
    )


def test_flat_offset_worked_example(impl):
    """flat_offset is storage_offset plus the dot product of index and strides; lengths must match (ValueError)."""
    x = torch.arange(60).view(3, 4, 5).transpose(0, 2)[1:]  # shape (4, 4, 3), a non-contiguous view
    index = (2, 3, 1)
    got = impl.strides.flat_offset(index, x.stride(), x.storage_offset())
    want = x[index].item()  # storage element k holds k
    assert got == want, (
        f"flat_offset({index}, {x.stride()}, {x.storage_offset()}) = {got}, expected {want}. "
        f"Hint: offset + sum(i * s for each dim)."
    )
    with pytest.raises(ValueError):
        impl.strides.flat_offset((1, 2), (3, 1, 1))


@given(layout=strided_layouts())
@example(layout=Layout((2, 0, 3), (7, 9, 11), 0))  # empty: contiguous whatever the strides
@example(layout=Layout((3, 1, 4), (4, 99, 1), 0))  # a size-1 dim's stride does not matter
@example(layout=Layout((4, 3), (1, 4), 0))  # transposed
def test_is_contiguous_matches_torch(impl, layout):
    """is_contiguous must agree with Tensor.is_contiguous(): size-1 dims are ignored and empty tensors are contiguous."""
    got = impl.strides.is_contiguous(layout.shape, layout.strides)
    want = as_tensor(layout).is_contiguous()
    assert got == want, (
        f"is_contiguous({layout.shape}, {layout.strides}) = {got}, expected {want}. "
        f"Hint: compare each stride with the row-major stride, skipping dims of size 1."
    )


@given(layout=strided_layouts(), data=st.data())
@example(layout=Layout((), (), 0), data=None)  # a 0-d tensor: transpose(0, -1) is a no-op
def test_transpose_matches_torch(impl, layout, data):
    """transpose swaps the sizes and the strides of two dims; negative dims count from the end; on a 0-d tensor dims 0 and -1 are a no-op."""
    ndim = len(layout.shape)
    dim0, dim1 = (0, -1) if data is None else (data.draw(transpose_dims(ndim)), data.draw(transpose_dims(ndim)))
    t = as_tensor(layout).transpose(dim0, dim1)
    got = impl.strides.transpose(layout.shape, layout.strides, dim0, dim1)
    want = (tuple(t.shape), t.stride())
    assert tuple(map(tuple, got)) == want, (
        f"transpose({layout.shape}, {layout.strides}, {dim0}, {dim1}) = {got}, expected {want}. "
        f"Hint: wrap a negative dim with dim % ndim (a 0-d tensor counts as one dim here, as in PyTorch)."
    )


@given(layout=strided_layouts(min_dims=1), data=st.data())
def test_narrow_matches_torch(impl, layout, data):
    """narrow keeps the strides and moves the storage offset by start x stride along dim; only that dim's size changes."""
    ndim = len(layout.shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    size = layout.shape[dim]
    start = data.draw(st.integers(0, size))
    length = data.draw(st.integers(0, size - start))
    t = as_tensor(layout).narrow(dim, start, length)
    got = impl.strides.narrow(layout.shape, layout.strides, layout.storage_offset, dim, start, length)
    want = (tuple(t.shape), t.stride(), t.storage_offset())
    assert (tuple(got[0]), tuple(got[1]), got[2]) == want, (
        f"narrow({layout}, dim={dim}, start={start}, length={length}) = {got}, expected {want}. "
        f"Hint: new offset = storage_offset + start * strides[dim]."
    )


@pytest.mark.parametrize(
    "layout, new_shape",
    [
        (Layout((4, 5), (5, 1), 0), (2, 10)),  # contiguous: any regrouping works
        (Layout((4, 5), (5, 1), 0), (-1,)),  # -1 is inferred: 20
        (Layout((4, 5), (1, 4), 0), (20,)),  # transposed: flattening needs a copy
        (Layout((4, 5), (1, 4), 0), (4, 5, 1)),  # adding a size-1 dim is always a view
        (Layout((2, 3, 4), (24, 4, 1), 0), (2, 12)),  # dims 1 and 2 are contiguous together
        (Layout((2, 3, 4), (24, 4, 1), 0), (6, 4)),  # dims 0 and 1 are not
        (Layout((3, 1, 4), (4, 7, 1), 0), (12,)),  # a size-1 dim's stride does not break a chunk
    ],
)
def test_view_worked_examples(impl, layout, new_shape):
    """view returns strides that address every element as Tensor.view does, or None where PyTorch refuses (a new dim would span two non-contiguous chunks)."""
    got = impl.strides.view(layout.shape, layout.strides, new_shape)
    want = torch_view_strides(layout, new_shape)
    call = f"view({layout.shape}, {layout.strides}, {new_shape})"
    assert_view_strides(call, layout, new_shape, got, want, hint=(
        "group old dims into chunks where stride[i] == size[i+1] * stride[i+1] (dims of size 1 never "
        "break a chunk); each new dim of size > 1 must fit inside one chunk."))


def assert_view_strides(call, layout, new_shape, got, want, hint):
    """None exactly where PyTorch needs a copy; else strides that read every element where Tensor.view does.

    Any stride is right on a dim of size 1 (it never moves an address), so only the addressing is compared."""
    if want is None or got is None:
        assert (None if got is None else tuple(got)) == want, f"{call} = {got}, expected {want}. Hint: {hint}"
        return
    view_shape = tuple(as_tensor(layout).view(new_shape).shape)  # any -1 resolved
    error = view_addressing_error(view_shape, got, want)
    assert error is None, f"{call} = {got}: {error}; PyTorch gives {want}. Hint: {hint}"


@given(layout=strided_layouts(max_dims=3), data=st.data())
def test_view_matches_torch(impl, layout, data):
    """view must address every element as Tensor.view does (a size-1 dim may take any stride), None where it needs a copy, ValueError if counts differ."""
    new_shape = data.draw(view_shapes(layout.shape))
    want = torch_view_strides(layout, new_shape)
    call = f"view({layout.shape}, {layout.strides}, {new_shape})"
    if want is ValueError:
        with pytest.raises(ValueError):
            got = impl.strides.view(layout.shape, layout.strides, new_shape)
            pytest.fail(f"{call} = {got}, expected ValueError (element counts cannot match)")
        return
    got = impl.strides.view(layout.shape, layout.strides, new_shape)
    assert_view_strides(call, layout, new_shape, got, want, hint=(
        "None means PyTorch needs a copy; check size-0 and stride-0 dims, and that dims of size 1 never break a chunk."))


def views_and_copies(device):
    x = torch.arange(24.0, device=device).view(4, 6)
    return [
        ("x vs x.t()", x, x.t(), True),
        ("x vs x[2:]", x, x[2:], True),  # starts elsewhere in the same storage
        ("x[:2] vs x[2:]", x[:2], x[2:], True),  # no element in common, one storage
        ("x vs x.view(24)", x, x.view(24), True),
        ("x vs x.clone()", x, x.clone(), False),
        ("x.t() vs x.t().contiguous()", x.t(), x.t().contiguous(), False),
        ("x vs torch.zeros(4, 6)", x, torch.zeros(4, 6, device=device), False),
    ]


def test_shares_storage_views_and_copies(impl, device):
    """Views (transpose, slices, view) share the storage, even when they overlap no element; copies (clone, contiguous) do not."""
    for label, a, b, want in views_and_copies(device):
        got = impl.strides.shares_storage(a, b)
        assert got == want, (
            f"shares_storage({label}) on {device} = {got}, expected {want}. "
            f"Hint: compare the storages (untyped_storage()), not the tensors' first elements."
        )
