"""Drivers for problem 5: build Linear / Cruncher from the implementation, return plain data.

Each runs next to the implementation (in the grader's sandbox); the tests compare the
outputs on the trusted side. Only torch and the stdlib here.
"""

import torch


def _describe(module) -> dict:
    """Registered parameters as plain data: names in order, weights, dtype/device strings."""
    named = list(module.named_parameters())
    return {
        "names": [name for name, _ in named],
        "weights": {name: p.detach().clone() for name, p in named},
        "shapes": {name: tuple(p.shape) for name, p in named},
        "dtypes": {name: str(p.dtype) for name, p in named},
        "devices": {name: str(p.device) for name, p in named},
        "requires_grad": {name: bool(p.requires_grad) for name, p in named},
        "num_parameters": sum(p.numel() for _, p in named),
    }


def linear_init(impl, d_in, d_out, seed=0, device=None, dtype=None) -> dict:
    """A fresh Linear(d_in, d_out, device, dtype), described."""
    torch.manual_seed(seed)
    layer = impl.model.Linear(d_in, d_out, device=device, dtype=dtype)
    return _describe(layer)


def linear_forward(impl, d_in, d_out, x, seed=0) -> dict:
    """Linear on x's device and dtype, applied to x: its weight and its output."""
    torch.manual_seed(seed)
    layer = impl.model.Linear(d_in, d_out, device=x.device, dtype=x.dtype)
    out = layer(x)
    return {
        "weight": layer.weight.detach().clone(),
        "out": out.detach().clone(),
        "out_requires_grad": bool(out.requires_grad),
    }


def cruncher_init(impl, dim, num_layers, seed=0, device=None, dtype=None) -> dict:
    """A fresh Cruncher(dim, num_layers, device, dtype), described."""
    torch.manual_seed(seed)
    model = impl.model.Cruncher(dim, num_layers, device=device, dtype=dtype)
    return _describe(model)


def cruncher_forward(impl, dim, num_layers, x, seed=0) -> dict:
    """Cruncher on x's device and dtype, applied to x: its weights and its output."""
    torch.manual_seed(seed)
    model = impl.model.Cruncher(dim, num_layers, device=x.device, dtype=x.dtype)
    out = model(x)
    described = _describe(model)
    described["out"] = out.detach().clone()
    described["out_requires_grad"] = bool(out.requires_grad)
    return described
