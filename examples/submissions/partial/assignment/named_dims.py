import einops
import torch


def pairwise_scores(x, y):
    """was x @ y.transpose(-2, -1)"""
    return torch.einsum("...ih,...jh->...ij", x, y)


def mean_over_hidden(x):
    # TODO: couldn't get einops.reduce to work with the ellipsis, come back to this
    return x.mean(dim=-1)


def linear(x, weight):
    return torch.einsum("...i,ij->...j", x, weight)


def per_head_linear(x, weight, num_heads):
    x = einops.rearrange(x, "... s (h d) -> ... s h d", h=num_heads)
    out = torch.einsum("...hd,de->...he", x, weight)
    return einops.rearrange(out, "... s h e -> ... s (h e)")


def causal_mask(seq_len):
    i = torch.arange(seq_len)
    return i[:, None] >= i[None, :]
