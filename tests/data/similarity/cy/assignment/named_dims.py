"""cy: named dims with einops.einsum and torch.einsum mixed."""

import einops
import torch


def pairwise_scores(x, y):
    return einops.einsum(x, y, "... a d, ... b d -> ... a b")


def mean_over_hidden(x):
    return einops.reduce(x, "... d -> ...", "sum") / x.shape[-1]


def linear(x, weight):
    return torch.einsum("...d,de->...e", x, weight)


def per_head_linear(x, weight, num_heads):
    d_in, d_out = weight.shape
    heads = einops.rearrange(x, "... t (h d) -> ... t h d", h=num_heads, d=d_in)
    return einops.rearrange(torch.einsum("...hd,de->...he", heads, weight), "... t h e -> ... t (h e)")


def causal_mask(seq_len):
    keys, queries = torch.meshgrid(torch.arange(seq_len), torch.arange(seq_len), indexing="xy")
    return keys <= queries
