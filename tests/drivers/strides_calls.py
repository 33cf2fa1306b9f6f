"""Driver for problem 2: shapes, strides and indices as torch.Size, the form `x.shape` and
`x.stride()` give them (no oracle here). torch.Size cannot cross the wire as itself."""

import torch


def call_with_sizes(impl, function: str, args: list, as_size: list):
    """strides.<function>(*args) with the arguments at positions `as_size` turned into torch.Size."""
    args = [torch.Size(a) if i in as_size else a for i, a in enumerate(args)]
    return getattr(impl.strides, function)(*args)
