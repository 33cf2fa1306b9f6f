"""Problem 3 (public): einsum/einops rewrites must match the PyTorch originals.

The oracles are the original index-juggling expressions, run here. The last test checks
the einsum-only rule on your source code (it reads the file, it does not run it).
"""

import ast

import pytest
import torch

pytestmark = pytest.mark.named_dims

FUNCTIONS = ("pairwise_scores", "mean_over_hidden", "linear", "per_head_linear", "causal_mask")
TENSOR_FUNCTIONS = FUNCTIONS[:4]  # causal_mask may use tril instead of einops
FORBIDDEN = {"matmul", "mm", "bmm", "transpose", "permute", "view", "reshape", "mean", "sum"}
FORBIDDEN_ATTRIBUTES = FORBIDDEN | {"T", "mT"}
ALLOWED_CALLS = {"einsum", "rearrange", "reduce", "repeat"}


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
                     "einops.reduce(x, '... hidden -> ...', 'mean')-style: only the last axis goes")


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


# --- the einsum-only rule, checked on the source ------------------------------------


def _module_bindings(tree):
    """Module-level name -> the nodes that bind it (defs, assignments, import aliases)."""
    bindings = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings.setdefault(stmt.name, []).append(stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        bindings.setdefault(node.id, []).append(stmt)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                bound = (alias.asname or alias.name).split(".")[0]
                bindings.setdefault(bound, []).append(alias)
    return bindings


def _locally_bound(nodes):
    """Names the checked code binds itself (parameters, assignments): a local `mean = ...` is fine."""
    names = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _reachable(bindings, name):
    """The nodes of `name` and of every module-level helper, constant or import it uses."""
    seen, todo, nodes = set(), [name], []
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in bindings.get(current, []):
            nodes.append(node)
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                    todo.append(sub.id)
    return nodes


def _violations(nodes, function):
    local = _locally_bound(n for n in nodes if not isinstance(n, ast.alias))
    found = []
    for root in nodes:
        if isinstance(root, ast.alias):  # `from torch import matmul as mult`
            if root.name.split(".")[-1] in FORBIDDEN_ATTRIBUTES:
                found.append(f"{function} uses `{root.name}` (imported as `{root.asname or root.name}`)")
            continue
        for node in ast.walk(root):
            line = f"line {getattr(node, 'lineno', '?')} ({function})"
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
                found.append(f"{line}: `@`")
            elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
                found.append(f"{line}: `.{node.attr}`")
            elif (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                  and node.id in FORBIDDEN and node.id not in local):
                found.append(f"{line}: `{node.id}`")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                  and any(isinstance(a, ast.Constant) and a.value in FORBIDDEN_ATTRIBUTES for a in node.args)):
                found.append(f"{line}: `getattr(..., {node.args[1].value!r})`")
    return found


def _raises_not_implemented(nodes):
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                    return True
    return False


def _calls_einsum_or_einops(nodes):
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called in ALLOWED_CALLS:
                    return True
    return False


def test_named_dims_uses_only_einsum_and_einops(impl):
    """The five functions (and module helpers they call) must be implemented with einsum/einops only: no `@`, matmul, mm, bmm, transpose, permute, view, reshape, .T, .mT, mean or sum."""
    source = impl.source("named_dims")
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        pytest.fail(f"assignment/named_dims.py does not parse: {error}")
    bindings = _module_bindings(tree)
    problems = []
    for function in FUNCTIONS:
        if function not in bindings:
            problems.append(f"{function} is not defined at module level")
            continue
        own = bindings[function]
        nodes = _reachable(bindings, function)
        # An untouched stub earns nothing here: the rule is about code you wrote.
        if _raises_not_implemented(own):
            problems.append(f"{function} still raises NotImplementedError")
            continue
        if function in TENSOR_FUNCTIONS and not _calls_einsum_or_einops(nodes):
            problems.append(f"{function} calls none of torch.einsum / einops.einsum, rearrange, reduce, repeat")
        problems += _violations(nodes, function)
    assert not problems, (
        "named_dims.py breaks the einsum-only rule:\n  " + "\n  ".join(problems)
        + "\nHint: rewrite these with torch.einsum or einops.{einsum, rearrange, reduce, repeat}; "
        "einops.reduce(x, 'pattern', 'mean') is the way to average (the string 'mean' is fine)."
    )
