"""Problem 3: index juggling rewritten with einsum / einops only."""

from __future__ import annotations

import einops
import torch
from torch import Tensor


def pairwise_scores(x: Tensor, y: Tensor) -> Tensor:
    """Was ``x @ y.transpose(-2, -1)``: ``... seq1 hidden, ... seq2 hidden -> ... seq1 seq2``."""
    return einops.einsum(x, y, "... q h, ... k h -> ... q k")


def mean_over_hidden(x: Tensor) -> Tensor:
    """Was ``x.mean(dim=-1)``: ``... hidden -> ...``."""
    width = x.shape[-1]
    return torch.einsum("...h->...", x) / width


def linear(x: Tensor, weight: Tensor) -> Tensor:
    """Was ``x @ weight``: ``... d_in, d_in d_out -> ... d_out``."""
    return torch.einsum("...i,io->...o", x, weight)


def per_head_linear(x: Tensor, weight: Tensor, num_heads: int) -> Tensor:
    """``... seq (heads d_in) -> ... seq (heads d_out)``, ``weight`` applied to every head."""
    split = einops.rearrange(x, "... s (g i) -> ... s g i", g=num_heads)
    mixed = einops.einsum(split, weight, "... s g i, i o -> ... s g o")
    return einops.rearrange(mixed, "... s g o -> ... s (g o)")


def causal_mask(seq_len: int) -> Tensor:
    """``query key`` booleans, True where key <= query: the stub's own hint, handed to tril."""
    return torch.ones(seq_len, seq_len).tril().bool()
