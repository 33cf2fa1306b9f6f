"""Problem 3, bo's version: einops everywhere, patterns as constants."""

import einops
import torch

PAIRWISE = "... s1 h, ... s2 h -> ... s1 s2"
LINEAR = "... i, i o -> ... o"


def pairwise_scores(x, y):
    return einops.einsum(x, y, PAIRWISE)


def mean_over_hidden(x):
    return einops.reduce(x, "... h -> ...", reduction="mean")


def linear(x, weight):
    return einops.einsum(x, weight, LINEAR)


def per_head_linear(x, weight, num_heads):
    split = einops.rearrange(x, "... s (n i) -> ... s n i", n=num_heads)
    merged = einops.einsum(split, weight, "... s n i, i o -> ... s n o")
    return einops.rearrange(merged, "... s n o -> ... s (n o)")


def causal_mask(seq_len):
    index = torch.arange(seq_len)
    return einops.repeat(index, "k -> q k", q=seq_len) <= einops.repeat(index, "q -> q k", k=seq_len)
