"""Problem 5: parameters and initialisation."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


@torch.no_grad()
def _truncated_normal_(w: Tensor, std: float, cutoff: float = 3.0) -> Tensor:
    """Fill ``w`` with N(0, std²) truncated to [-cutoff*std, cutoff*std] by resampling."""
    w.normal_(0.0, std)
    limit = cutoff * std
    outside = w.abs() > limit
    while bool(outside.any()):
        redraw = torch.empty(int(outside.sum()), device=w.device, dtype=w.dtype).normal_(0.0, std)
        w[outside] = redraw
        outside = w.abs() > limit
    return w


class Linear(nn.Module):
    def __init__(self, d_in: int, d_out: int, device=None, dtype=None):
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        self.weight = nn.Parameter(torch.empty(d_in, d_out, device=device, dtype=dtype))
        _truncated_normal_(self.weight, 1.0 / math.sqrt(d_in))

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_out={self.d_out}"


class Cruncher(nn.Module):
    def __init__(self, dim: int, num_layers: int, device=None, dtype=None):
        super().__init__()
        self.layers = nn.ModuleList(Linear(dim, dim, device=device, dtype=dtype) for _ in range(num_layers))
        self.head = Linear(dim, 1, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.head(x)[..., 0]
