"""Problem 3 (hidden): differential tests of the einsum/einops rewrites.

Each function is compared with the original index-juggling PyTorch expression and with
the reference, over leading batch dims (none, one, two), distinct sizes for distinct
named dims, non-contiguous layouts, several float dtypes and every device. Inputs are
small integers, so every product and sum is exact in every dtype: the matmul-like
functions must agree exactly; only averages round.
"""

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.strategies import batch_shapes, distinct_sizes, named_dims_dtypes, named_dims_layouts

pytestmark = pytest.mark.named_dims

# `device` is a plain string parameter, the same for every example: safe to share.
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors]


def make(shape, dtype_name, device, layout, seed):
    """Integers in [-3, 3] of `shape`, laid out as `layout` says (values do not depend on it)."""
    shape = tuple(shape)
    dtype = getattr(torch, dtype_name)
    g = torch.Generator().manual_seed(seed)
    if layout == "transposed" and len(shape) >= 2:
        base = torch.randint(-3, 4, shape[:-2] + (shape[-1], shape[-2]), generator=g)
        return base.to(dtype=dtype, device=device).transpose(-1, -2)
    if layout == "sliced" and len(shape) >= 1:
        base = torch.randint(-3, 4, shape[:-1] + (2 * shape[-1],), generator=g)
        return base.to(dtype=dtype, device=device)[..., ::2]
    if layout == "expanded" and len(shape) >= 1:
        base = torch.randint(-3, 4, (1,) + shape[1:], generator=g)
        return base.to(dtype=dtype, device=device).expand(shape)
    return torch.randint(-3, 4, shape, generator=g).to(dtype=dtype, device=device)


def check(got, expected, device, atol=0.0):
    """Shape, dtype and device of the original; values equal (within `atol` for averages)."""
    assert isinstance(got, torch.Tensor)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    assert got.device.type == torch.device(device).type
    torch.testing.assert_close(got.cpu().double(), expected.cpu().double(), rtol=0, atol=atol, equal_nan=True)


@settings(max_examples=40, suppress_health_check=FIXTURE_OK)
@given(batch=batch_shapes(), sizes=distinct_sizes(3, min_side=1), dtype=named_dims_dtypes(),
       layout_x=named_dims_layouts(), layout_y=named_dims_layouts(), seed=st.integers(0, 2**16))
@example(batch=(), sizes=(3, 5, 4), dtype="float32", layout_x="contiguous", layout_y="contiguous", seed=0)
@example(batch=(2, 3), sizes=(4, 2, 5), dtype="bfloat16", layout_x="transposed", layout_y="sliced", seed=1)
@example(batch=(2,), sizes=(1, 3, 1), dtype="float16", layout_x="expanded", layout_y="transposed", seed=2)
@example(batch=(3,), sizes=(2, 4, 0), dtype="float64", layout_x="contiguous", layout_y="contiguous", seed=3)
@example(batch=(0, 2), sizes=(3, 2, 4), dtype="float32", layout_x="contiguous", layout_y="expanded", seed=4)
@example(batch=(2,), sizes=(3, 3, 4), dtype="float32", layout_x="sliced", layout_y="sliced", seed=5)
def test_pairwise_scores_matches_original_and_ref(impl, ref, device, batch, sizes, dtype, layout_x, layout_y, seed):
    """pairwise_scores must equal x @ y.transpose(-2, -1) (output '... seq1 seq2') for any batch dims, layout and dtype."""
    seq1, seq2, hidden = sizes
    x = make(batch + (seq1, hidden), dtype, device, layout_x, seed)
    y = make(batch + (seq2, hidden), dtype, device, layout_y, seed + 1)
    expected = x @ y.transpose(-2, -1)
    check(impl.named_dims.pairwise_scores(x, y), expected, device)
    check(ref.named_dims.pairwise_scores(x, y), expected, device)


@settings(max_examples=40, suppress_health_check=FIXTURE_OK)
@given(batch=batch_shapes(), hidden=st.integers(0, 9), dtype=named_dims_dtypes(),
       layout=named_dims_layouts(), seed=st.integers(0, 2**16))
@example(batch=(), hidden=5, dtype="float32", layout="contiguous", seed=0)
@example(batch=(2, 3), hidden=4, dtype="bfloat16", layout="transposed", seed=1)
@example(batch=(3,), hidden=1, dtype="float16", layout="sliced", seed=2)
@example(batch=(2,), hidden=0, dtype="float32", layout="contiguous", seed=3)
@example(batch=(0,), hidden=3, dtype="float64", layout="expanded", seed=4)
@example(batch=(4,), hidden=7, dtype="float64", layout="expanded", seed=5)
def test_mean_over_hidden_matches_original_and_ref(impl, ref, device, batch, hidden, dtype, layout, seed):
    """mean_over_hidden must equal x.mean(dim=-1): only the last axis is averaged, dtype kept, empty axis gives NaN."""
    x = make(batch + (hidden,), dtype, device, layout, seed)
    expected = x.mean(dim=-1)
    # |x| <= 3: a correct average is off by at most a few roundings of a value <= 3.
    atol = 12 * torch.finfo(x.dtype).eps
    check(impl.named_dims.mean_over_hidden(x), expected, device, atol)
    check(ref.named_dims.mean_over_hidden(x), expected, device, atol)


@settings(max_examples=40, suppress_health_check=FIXTURE_OK)
@given(batch=batch_shapes(), sizes=distinct_sizes(2, min_side=1), dtype=named_dims_dtypes(),
       layout_x=named_dims_layouts(), layout_w=named_dims_layouts(), seed=st.integers(0, 2**16))
@example(batch=(), sizes=(4, 6), dtype="float32", layout_x="contiguous", layout_w="contiguous", seed=0)
@example(batch=(3,), sizes=(4, 6), dtype="float32", layout_x="sliced", layout_w="transposed", seed=1)
@example(batch=(2, 3), sizes=(5, 2), dtype="bfloat16", layout_x="transposed", layout_w="sliced", seed=2)
@example(batch=(2,), sizes=(1, 3), dtype="float16", layout_x="expanded", layout_w="expanded", seed=3)
@example(batch=(2,), sizes=(0, 3), dtype="float64", layout_x="contiguous", layout_w="contiguous", seed=4)
@example(batch=(0, 2), sizes=(3, 5), dtype="float32", layout_x="contiguous", layout_w="contiguous", seed=5)
def test_linear_matches_original_and_ref(impl, ref, device, batch, sizes, dtype, layout_x, layout_w, seed):
    """linear must equal x @ weight with weight 'd_in d_out' and x '... d_in', for any batch dims and layout."""
    d_in, d_out = sizes
    x = make(batch + (d_in,), dtype, device, layout_x, seed)
    weight = make((d_in, d_out), dtype, device, layout_w, seed + 1)
    expected = x @ weight
    check(impl.named_dims.linear(x, weight), expected, device)
    check(ref.named_dims.linear(x, weight), expected, device)


def original_per_head_linear(x, weight, num_heads):
    *lead, last = x.shape
    per_head = x.reshape(*lead, num_heads, last // num_heads)
    return (per_head @ weight).reshape(*lead, num_heads * weight.shape[-1])


@settings(max_examples=40, suppress_health_check=FIXTURE_OK)
@given(batch=batch_shapes(max_dims=1), sizes=distinct_sizes(4, min_side=1, max_side=6), dtype=named_dims_dtypes(),
       layout_x=named_dims_layouts(), layout_w=named_dims_layouts(), seed=st.integers(0, 2**16))
@example(batch=(2,), sizes=(5, 3, 4, 7), dtype="float32", layout_x="contiguous", layout_w="contiguous", seed=0)
@example(batch=(), sizes=(3, 2, 4, 5), dtype="float32", layout_x="transposed", layout_w="transposed", seed=1)
@example(batch=(2,), sizes=(3, 1, 4, 2), dtype="bfloat16", layout_x="sliced", layout_w="sliced", seed=2)
@example(batch=(2,), sizes=(3, 4, 1, 2), dtype="float16", layout_x="expanded", layout_w="contiguous", seed=3)
@example(batch=(2,), sizes=(4, 3, 2, 1), dtype="float64", layout_x="transposed", layout_w="expanded", seed=4)
@example(batch=(0,), sizes=(2, 3, 4, 5), dtype="float32", layout_x="contiguous", layout_w="contiguous", seed=5)
@example(batch=(2,), sizes=(3, 2, 2, 3), dtype="float32", layout_x="contiguous", layout_w="contiguous", seed=6)
def test_per_head_linear_matches_original_and_ref(impl, ref, device, batch, sizes, dtype, layout_x, layout_w, seed):
    """per_head_linear must split the last axis as (heads d_in) with heads OUTER, apply weight per head and merge as (heads d_out)."""
    seq, heads, d_in, d_out = sizes
    x = make(batch + (seq, heads * d_in), dtype, device, layout_x, seed)
    weight = make((d_in, d_out), dtype, device, layout_w, seed + 1)
    expected = original_per_head_linear(x, weight, heads)
    check(impl.named_dims.per_head_linear(x, weight, heads), expected, device)
    check(ref.named_dims.per_head_linear(x, weight, heads), expected, device)


@settings(max_examples=20)
@given(seq_len=st.integers(0, 40))
@example(seq_len=0)
@example(seq_len=1)
@example(seq_len=2)
@example(seq_len=17)
def test_causal_mask_matches_tril_and_ref(impl, ref, seq_len):
    """causal_mask(n) must be an (n, n) bool tensor equal to torch.ones(n, n).tril().bool() (rows are queries)."""
    expected = torch.ones(seq_len, seq_len).tril().bool()
    for got in (impl.named_dims.causal_mask(seq_len), ref.named_dims.causal_mask(seq_len)):
        assert isinstance(got, torch.Tensor)
        assert got.dtype == torch.bool
        assert got.shape == (seq_len, seq_len)
        assert torch.equal(got.cpu(), expected)
