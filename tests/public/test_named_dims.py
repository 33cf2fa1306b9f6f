"""Problem 3 (public): einsum/einops rewrites must match the PyTorch originals.

The oracles are the original index-juggling expressions, run here. The last five tests check
the einsum-only rule on what each function EXECUTES (a torch function mode records every torch
call it makes, tests/drivers/named_dims.py) and, since code can switch that recorder off, on
its text too (seam/own_work.py reads the source, helpers followed), and pay only where the
function is also right.
"""

import pytest
import torch

from seam import own_work
from tests.drivers import named_dims as drivers

pytestmark = pytest.mark.named_dims


def _ints(*shape, seed=0, dtype=torch.float32):
    """Small integers: every product and sum is exact, so results can be compared exactly."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-3, 4, shape, generator=g).to(dtype)


def _check_equal(name, inputs, got, expected, hint):
    assert isinstance(got, torch.Tensor), f"{name}({inputs}) returned {type(got).__name__}, expected a tensor"
    assert got.shape == expected.shape, (
        f"{name}({inputs}): got shape {tuple(got.shape)}, expected {tuple(expected.shape)}. Hint: {hint}"
    )
    assert got.dtype == expected.dtype, f"{name}({inputs}): got dtype {got.dtype}, expected {expected.dtype}"
    assert torch.allclose(got, expected, equal_nan=True), (
        f"{name}({inputs}):\n got {got}\n expected {expected}\nHint: {hint}"
    )


def test_pairwise_scores_matches_matmul_with_transpose(impl):
    """pairwise_scores(x, y) must equal x @ y.transpose(-2, -1): contract `hidden`, keep seq1 then seq2."""
    x, y = _ints(2, 3, 4, seed=1), _ints(2, 5, 4, seed=2)
    got = impl.named_dims.pairwise_scores(x, y)
    _check_equal("pairwise_scores", "x (2, 3, 4), y (2, 5, 4)", got, x @ y.transpose(-2, -1),
                 "the output is '... seq1 seq2'; sum over the shared `hidden` axis")
    x2, y2 = _ints(3, 4, seed=3), _ints(5, 4, seed=4)
    got = impl.named_dims.pairwise_scores(x2, y2)
    _check_equal("pairwise_scores", "x (3, 4), y (5, 4) (no batch dims)", got, x2 @ y2.T,
                 "use '...' so that zero leading dims work too")


def test_mean_over_hidden_matches_mean(impl):
    """mean_over_hidden(x) must equal x.mean(dim=-1) for any leading dims, including none."""
    for shape in [(2, 3, 4), (4,), (3, 1)]:
        x = _ints(*shape, seed=5)
        got = impl.named_dims.mean_over_hidden(x)
        _check_equal("mean_over_hidden", f"x of shape {shape}", got, x.mean(dim=-1),
                     "reduce only the last axis, `hidden`, with a mean, whatever the leading dims")


def test_linear_matches_matmul(impl):
    """linear(x, weight) must equal x @ weight: contract x's last axis with weight's first."""
    weight = _ints(4, 6, seed=6)
    for shape in [(4,), (3, 4), (2, 3, 4)]:
        x = _ints(*shape, seed=7)
        got = impl.named_dims.linear(x, weight)
        _check_equal("linear", f"x {shape}, weight (4, 6)", got, x @ weight,
                     "weight is 'd_in d_out'; x is '... d_in'")


def test_per_head_linear_matches_reshape_matmul(impl):
    """per_head_linear splits the last axis as (heads d_in), heads first, applies weight per head, merges back."""
    x, weight, heads = _ints(2, 5, 12, seed=8), _ints(4, 7, seed=9), 3
    expected = (x.reshape(2, 5, heads, 4) @ weight).reshape(2, 5, heads * 7)
    got = impl.named_dims.per_head_linear(x, weight, heads)
    _check_equal("per_head_linear", "x (2, 5, 12), weight (4, 7), num_heads=3", got, expected,
                 "'... seq (heads d_in) -> ... seq heads d_in': heads is the OUTER factor of the last axis")


def test_causal_mask_matches_tril(impl):
    """causal_mask(n) is an (n, n) bool tensor, True where key <= query (lower triangle with diagonal)."""
    for n in [1, 3, 6]:
        got = impl.named_dims.causal_mask(n)
        expected = torch.ones(n, n).tril().bool()
        _check_equal("causal_mask", f"seq_len={n}", got, expected,
                     "rows are queries, columns keys; a query attends to itself and earlier keys")


# --- the einsum-only rule, checked on what each function executes -------------------

# What your functions may call themselves (torch's names for them). Work done inside einops
# (its rearrange reshapes and permutes for you) is recorded as "einops" and always allowed.
EINSUM = "torch.functional.einsum"  # torch.einsum
_ELEMENTWISE = ("add", "sub", "mul", "div", "true_divide", "floor_divide", "neg", "pow", "abs", "reciprocal",
                "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not",
                "bitwise_and", "bitwise_or", "bitwise_not", "and", "or", "xor", "invert", "truediv", "floordiv")
ALLOWED_OPS = frozenset(
    {EINSUM, drivers.EINOPS, "torch.arange", "torch.ones",
     # elementwise arithmetic and comparisons, as functions, methods and operators (x + y, 3 - x, i <= j)
     *(f"torch.{op}" for op in _ELEMENTWISE), *(f"torch.Tensor.{op}" for op in _ELEMENTWISE),
     *(f"torch.Tensor.__{op}__" for op in _ELEMENTWISE), *(f"torch.Tensor.__r{op}__" for op in _ELEMENTWISE),
     # reading metadata and converting the dtype move no element
     "torch.Tensor.shape.__get__", "torch.Tensor.ndim.__get__", "torch.Tensor.dtype.__get__",
     "torch.Tensor.device.__get__", "torch.Tensor.size", "torch.Tensor.dim", "torch.Tensor.numel",
     "torch.Tensor.__len__", "torch.Tensor.to", "torch.Tensor.bool", "torch.Tensor.float", "torch.Tensor.double"}
)
RULE_HINT = (
    "do the tensor work with torch.einsum or einops.{einsum, rearrange, reduce, repeat}; besides those, "
    "only elementwise arithmetic and comparisons, torch.arange/ones, reading shape/dtype/device "
    "and .to(dtype) are allowed (no @, matmul, transpose, permute, view, reshape, unsqueeze, indexing like "
    "x[:, None], flatten, expand, tensordot, mean, sum, tril, triu). einops.reduce(x, 'pattern', 'mean') is the way to average."
)


def _rule_cases(function):
    """(args, the original's answer) for `function`, leading dims included."""
    x, y, w = _ints(2, 3, 4, seed=11), _ints(2, 5, 4, seed=12), _ints(4, 6, seed=13)
    heads = _ints(2, 5, 12, seed=14)
    return {
        "pairwise_scores": [((x, y), x @ y.transpose(-2, -1)), ((x[0], y[0]), x[0] @ y[0].T)],
        "mean_over_hidden": [((x,), x.mean(dim=-1)), ((x[0, 0],), x[0, 0].mean(dim=-1))],
        "linear": [((x, w), x @ w), ((x[0, 0], w), x[0, 0] @ w)],
        "per_head_linear": [((heads, w, 3), (heads.reshape(2, 5, 3, 4) @ w).reshape(2, 5, 18))],
        "causal_mask": [((n,), torch.ones(n, n).tril().bool()) for n in (1, 4)],
    }[function]


def check_einsum_only_rule(impl, function, needs_einsum=True):
    """Run `function` on each case under the recorder: right answers first, then only allowed ops."""
    ops = []
    for args, expected in _rule_cases(function):
        out = impl.run(drivers.ops_executed, function=function, args=list(args))
        got = out["result"]
        works = (isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == expected.dtype
                 and torch.allclose(got.cpu().double(), expected.double()))
        assert works, (
            f"{function} gives a wrong answer on inputs of shapes {[tuple(getattr(a, 'shape', ())) for a in args]}, "
            f"so the einsum-only rule earns nothing for it yet (the rule pays only for code that works): "
            f"make the test of {function} above pass first."
        )
        ops += [op for op in out["ops"] if op not in ops]
    forbidden = [op for op in ops if op not in ALLOWED_OPS]
    assert not forbidden, f"{function} executes {', '.join(forbidden)}, outside the einsum-only rule. Hint: {RULE_HINT}"
    written = own_work.einsum_breach(impl.sources(), function, getattr(impl, "package", "assignment"))
    assert written is None, f"{written.message()} Hint: {RULE_HINT}"
    if needs_einsum:
        assert drivers.EINOPS in ops or EINSUM in ops, (
            f"{function} calls neither torch.einsum nor einops (it executed only {ops}). Hint: {RULE_HINT}"
        )


def test_pairwise_scores_follows_the_einsum_only_rule(impl):
    """pairwise_scores is right and executes only torch.einsum / einops (plus elementwise and metadata ops)."""
    check_einsum_only_rule(impl, "pairwise_scores")


def test_mean_over_hidden_follows_the_einsum_only_rule(impl):
    """mean_over_hidden is right and executes only torch.einsum / einops (no .mean, no .sum)."""
    check_einsum_only_rule(impl, "mean_over_hidden")


def test_linear_follows_the_einsum_only_rule(impl):
    """linear is right and executes only torch.einsum / einops (no @, matmul, tensordot)."""
    check_einsum_only_rule(impl, "linear")


def test_per_head_linear_follows_the_einsum_only_rule(impl):
    """per_head_linear is right and executes only torch.einsum / einops (no reshape, view, permute)."""
    check_einsum_only_rule(impl, "per_head_linear")


def test_causal_mask_follows_the_einsum_only_rule(impl):
    """causal_mask is right and executes only einops, comparisons and torch.arange/ones (no tril/triu, no indexing like [:, None], no unsqueeze)."""
    check_einsum_only_rule(impl, "causal_mask", needs_einsum=False)
