"""Problem 2 (hidden): shapes, strides and indices passed as lists and as torch.Size (what x.shape and
x.stride() give), and results that are plain tuples of Python ints whatever came in.

The reference (`ref`, trusted side) gives the expected value of each call; the answer must equal it
and have its types: a tuple (never the list that came in), of ints.
"""

import pytest
import torch

from tests.drivers import strides_calls as calls

pytestmark = pytest.mark.strides

# (function, args, positions of shape/strides/index arguments)
CALLS = [
    ("contiguous_strides", [[2, 0, 3]], [0]),
    ("contiguous_strides", [[4, 1, 5]], [0]),
    ("flat_offset", [[1, 2], [5, 1], 3], [0, 1]),
    ("flat_offset", [[1, 1, 1], [12, 4, 1]], [0, 1]),
    ("is_contiguous", [[3, 1, 4], [4, 99, 1]], [0, 1]),
    ("is_contiguous", [[4, 3], [1, 4]], [0, 1]),
    ("transpose", [[2, 3, 4], [12, 4, 1], 0, -1], [0, 1]),
    ("transpose", [[2, 3], [3, 1], 1, 1], [0, 1]),
    ("transpose", [[], [], 0, -1], [0, 1]),
    ("narrow", [[4, 5], [5, 1], 0, 1, 2, 3], [0, 1]),
    ("narrow", [[4, 5], [5, 1], 7, -1, -3, 2], [0, 1]),
    ("view", [[4, 5], [5, 1], [2, 10]], [0, 1, 2]),
    ("view", [[5, 4], [1, 5], [20]], [0, 1, 2]),
    ("view", [[2, 3, 4], [12, 4, 1], [-1, 4]], [0, 1, 2]),
    ("view", [[2, 0, 3], [0, 5, 1], [2, 0, 3]], [0, 1, 2]),
]


def _plain(value):
    """The expected types: tuples (nested) of ints, a bool, or None."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


def _assert_plain_and_equal(got, want, what: str):
    assert got == want, f"{what}: got {got!r}"
    if isinstance(want, tuple):
        assert type(got) is tuple, f"{what} returned a {type(got).__name__}, not a plain tuple"
        for mine, theirs in zip(got, want):
            _assert_plain_and_equal(mine, theirs, what)
    else:
        assert type(got) is type(want), f"{what} returned a {type(got).__name__}, expected a {type(want).__name__}"


def _ids(cases):
    return [f"{function}{tuple(args)}" for function, args, _ in cases]


@pytest.mark.parametrize("function, args, positions", CALLS, ids=_ids(CALLS))
def test_lists_in_plain_tuples_out(impl, ref, function, args, positions):
    """Shapes and strides are any sequence of ints: lists in, and still plain tuples of ints out."""
    want = _plain(getattr(ref.strides, function)(*[tuple(a) if i in positions else a for i, a in enumerate(args)]))
    got = getattr(impl.strides, function)(*args)
    _assert_plain_and_equal(got, want, f"{function}(lists {args})")


@pytest.mark.parametrize("function, args, positions", CALLS, ids=_ids(CALLS))
def test_torch_size_in_plain_tuples_out(impl, ref, function, args, positions):
    """x.shape and x.stride() (torch.Size, a tuple subclass) work as shapes and strides; results are plain tuples, not torch.Size."""
    want = _plain(getattr(ref.strides, function)(*[tuple(a) if i in positions else a for i, a in enumerate(args)]))
    got = impl.run(calls.call_with_sizes, function=function, args=args, as_size=positions)
    _assert_plain_and_equal(got, want, f"{function}(torch.Size {args})")


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8])
def test_shares_storage_across_dtype_views(impl, dtype):
    """Views of one storage share it even when they read it as another dtype (x.view(dtype)); a copy does not."""
    x = torch.arange(16, dtype=torch.float32)
    viewed = x.view(dtype)
    assert impl.strides.shares_storage(x, viewed) is True
    assert impl.strides.shares_storage(x[4:], viewed[8:]) is True
    assert impl.strides.shares_storage(x, viewed.clone()) is False
