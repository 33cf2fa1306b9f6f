"""Problem 3: einsum and einops rewrites of index-juggling PyTorch code.

Each function replaces a `transpose`/`view`/`@` expression by one that names its dims,
so the code says which axis is contracted, kept or split. Only `torch.einsum` and
`einops.{einsum, rearrange, reduce, repeat}` do the tensor work here.
"""

import einops
import torch
from jaxtyping import Bool, Float
from torch import Tensor


def pairwise_scores(
    x: Float[Tensor, "... seq1 hidden"], y: Float[Tensor, "... seq2 hidden"]
) -> Float[Tensor, "... seq1 seq2"]:
    """Dot product of every row of x with every row of y (was `x @ y.transpose(-2, -1)`)."""
    return einops.einsum(x, y, "... seq1 hidden, ... seq2 hidden -> ... seq1 seq2")


def mean_over_hidden(x: Float[Tensor, "... hidden"]) -> Float[Tensor, "..."]:
    """Average of the last axis (was `x.mean(dim=-1)`); an empty axis gives NaN, as PyTorch."""
    return einops.reduce(x, "... hidden -> ...", "mean")


def linear(x: Float[Tensor, "... d_in"], weight: Float[Tensor, "d_in d_out"]) -> Float[Tensor, "... d_out"]:
    """x times weight, any leading dims (was `x @ weight`)."""
    return einops.einsum(x, weight, "... d_in, d_in d_out -> ... d_out")


def per_head_linear(
    x: Float[Tensor, "... seq heads_d_in"], weight: Float[Tensor, "d_in d_out"], num_heads: int
) -> Float[Tensor, "... seq heads_d_out"]:
    """Split the last axis into heads, apply weight to each head, merge the heads back."""
    # The split puts heads first ("(heads d_in)"): head h owns columns h*d_in .. (h+1)*d_in - 1,
    # as `x.view(..., num_heads, -1)` does.
    heads = einops.rearrange(x, "... seq (heads d_in) -> ... seq heads d_in", heads=num_heads)
    out = einops.einsum(heads, weight, "... seq heads d_in, d_in d_out -> ... seq heads d_out")
    return einops.rearrange(out, "... seq heads d_out -> ... seq (heads d_out)")


def causal_mask(seq_len: int) -> Bool[Tensor, "query key"]:
    """True where query i may attend to key j, that is j <= i (was `torch.ones(n, n).tril().bool()`)."""
    positions = torch.arange(seq_len)
    query = einops.rearrange(positions, "query -> query 1")
    key = einops.rearrange(positions, "key -> 1 key")
    return key <= query
