"""Problem 5: parameters and initialisation.

A model is a set of parameters (tensors that training will change) and a forward pass.
Here you build the two modules the rest of the assignment uses: a bias-free `Linear`
layer and `Cruncher`, a deep *linear* network made of them.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn


class Linear(nn.Module):
    """A bias-free linear layer: `forward(x) = x @ weight`.

    The weight is one `nn.Parameter` named `weight`, of shape `(d_in, d_out)` (note: the
    transpose of `torch.nn.Linear`'s layout, so that the forward is a plain `x @ weight`).
    Create it with the given `device` and `dtype` (None means PyTorch's defaults).

    Initialisation: a normal of mean 0 and std `1/sqrt(d_in)`, truncated at 3 std.
    - Why 1/sqrt(d_in): each output sums d_in products `x_i * w_ij`; with inputs of
      variance 1 and weights of variance 1/d_in, the sum has variance about 1, so
      activations neither explode nor vanish as layers stack. With std 1 instead, a
      layer with d_in = 1024 would multiply the activations' scale by 32.
    - Why truncate: a rare weight 5 or 6 std out can dominate a unit; truncation redraws
      any value beyond +-3 std. `torch.nn.init.trunc_normal_` does this, but its `a` and
      `b` are absolute bounds (not multiples of std): scale them yourself.

    Example: `Linear(1024, 64)` has a (1024, 64) weight whose std is close to 1/32 (a bit
    less: truncation removes about 2.7% of the variance) and whose every entry lies within
    +-3/32. `Linear(3, 5)(torch.ones(2, 7, 3))` has shape (2, 7, 5).
    """

    def __init__(self, d_in: int, d_out: int, device=None, dtype=None):
        super().__init__()
        raise NotImplementedError("Problem 5 (model.Linear.__init__): create self.weight, (d_in, d_out), truncated-normal init")

    def forward(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_out"]:
        raise NotImplementedError("Problem 5 (model.Linear.forward): multiply x by the weight")


class Cruncher(nn.Module):
    """A deep linear network: `num_layers` square `Linear(dim, dim)` layers, then a head.

    `self.layers` must be an `nn.ModuleList` of `Linear(dim, dim)` (a plain Python list
    would hide their parameters from `.parameters()`), and `self.head` a `Linear(dim, 1)`.
    Pass `device` and `dtype` on to every Linear. There is no activation between layers.

    `forward(x)` takes a `(batch, dim)` input through every layer in order, then the head,
    which gives `(batch, 1)`; drop that last axis to return `(batch,)`. Only that axis:
    a batch of one must still come out with shape `(1,)`.

    Parameter names (from `named_parameters()`): `layers.0.weight`, ..., `head.weight`.
    Example: `Cruncher(4, 2)` has 36 parameters.
    """

    def __init__(self, dim: int, num_layers: int, device=None, dtype=None):
        super().__init__()
        raise NotImplementedError("Problem 5 (model.Cruncher.__init__): build self.layers (nn.ModuleList) and self.head")

    def forward(self, x: Float[Tensor, "batch dim"]) -> Float[Tensor, "batch"]:
        raise NotImplementedError("Problem 5 (model.Cruncher.forward): apply the layers, then the head, then drop the last axis")
