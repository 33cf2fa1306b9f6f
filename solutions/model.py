"""Problem 5: parameters and initialisation (reference)."""

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn


class Linear(nn.Module):
    """`x @ weight` with a (d_in, d_out) weight and no bias."""

    def __init__(self, d_in: int, d_out: int, device=None, dtype=None):
        super().__init__()
        # std 1/sqrt(d_in) keeps each output's variance equal to the input's:
        # it sums d_in products, each of variance 1/d_in.
        std = 1.0 / math.sqrt(d_in)
        weight = torch.empty(d_in, d_out, device=device, dtype=dtype)
        # Truncate at 3 std (bounds are absolute values, so scale them): no rare huge weight.
        nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-3 * std, b=3 * std)
        self.weight = nn.Parameter(weight)

    def forward(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_out"]:
        return x @ self.weight


class Cruncher(nn.Module):
    """A deep linear network: `num_layers` square Linears, then a Linear to one output."""

    def __init__(self, dim: int, num_layers: int, device=None, dtype=None):
        super().__init__()
        # ModuleList (not a Python list) registers the layers' parameters.
        self.layers = nn.ModuleList(
            Linear(dim, dim, device=device, dtype=dtype) for _ in range(num_layers)
        )
        self.head = Linear(dim, 1, device=device, dtype=dtype)

    def forward(self, x: Float[Tensor, "batch dim"]) -> Float[Tensor, "batch"]:
        for layer in self.layers:
            x = layer(x)
        # Squeeze only the head's axis: a batch of 1 must stay shape (1,).
        return self.head(x).squeeze(-1)
