"""Linear and Cruncher with explicit parameter registration."""

import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, d_in, d_out, device=None, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_in, d_out, device=device, dtype=dtype))
        sigma = d_in ** -0.5
        with torch.no_grad():
            nn.init.trunc_normal_(self.weight, 0.0, sigma, -3.0 * sigma, 3.0 * sigma)

    def forward(self, x):
        return torch.matmul(x, self.weight)


class Cruncher(nn.Module):
    def __init__(self, dim, num_layers, device=None, dtype=None):
        super().__init__()
        blocks = []
        for _ in range(num_layers):
            blocks.append(Linear(dim, dim, device, dtype))
        self.layers = nn.Sequential(*blocks)
        self.head = Linear(dim, 1, device, dtype)

    def forward(self, x):
        hidden = self.layers(x)
        out = self.head(hidden)
        return out[..., 0]
