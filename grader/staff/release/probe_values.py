"""The leak probe's comparisons: values a candidate and the reference return, or leave in their
arguments, reduced to plain data (plain, state_of) and compared up to what a student could convert
(same), or by their structure alone (structure); what cannot be looked into is an Opaque kind.

Part of the probe (see leak_probe.py): it runs in the bundle's copy and imports only the standard
library, torch and numpy.
"""

from __future__ import annotations

import math


class Opaque(str):
    """A value plain() cannot look into (a model, a function, a generator): only its kind, the
    nearest class of its type that PyTorch, NumPy or Python defines (a module, an optimizer)."""


def _kind(value) -> Opaque:
    for cls in type(value).__mro__:
        if cls is not object and cls.__module__.split(".")[0] in ("torch", "numpy", "builtins", "collections"):
            return Opaque(f"{cls.__module__}.{cls.__qualname__}")
    return Opaque("object")


def plain(value, depth: int = 0):
    """What a value says, in a form where representations a student could convert compare equal:
    numbers and 0-d tensors are floats, tensors float64 CPU tensors, tuples and lists lists;
    anything else is Opaque."""
    import numpy as np
    import torch

    if depth > 6:
        return Opaque("deep")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        tensor = torch.as_tensor(value).detach().cpu()
        if tensor.dtype == torch.bool:
            return bool(tensor) if tensor.dim() == 0 else tensor.clone()
        tensor = tensor.to(torch.float64)
        return float(tensor) if tensor.dim() == 0 else tensor
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    return _kind(value)


def state_of(value):
    """The argument's state after a call: a module's tensors, an optimizer's state, else plain."""
    import torch

    if isinstance(value, torch.nn.Module):
        return plain(list(value.state_dict().values()))
    if isinstance(value, torch.optim.Optimizer):
        return plain(list(value.state.values()))
    if isinstance(value, (list, tuple)):
        return [state_of(v) for v in value]
    if isinstance(value, dict):
        return {str(k): state_of(v) for k, v in value.items()}
    return plain(value)


def structure(value):
    """What a value looks like without its numbers: a number, a tensor of some shape, a list of..."""
    import torch

    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype == torch.bool)
    if isinstance(value, list):
        return ("list", tuple(structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, structure(v)) for k, v in value.items()))
    return value  # None, a str, an Opaque kind


def opaque(value) -> bool:
    if isinstance(value, Opaque):
        return True
    if isinstance(value, list):
        return any(opaque(v) for v in value)
    if isinstance(value, dict):
        return any(opaque(v) for v in value.values())
    return False


def same(a, b) -> bool:
    import torch

    if isinstance(a, list) and len(a) == 1 and isinstance(b, float):  # a one-element sequence for a number
        a = a[0]
    if isinstance(b, list) and len(b) == 1 and isinstance(a, float):
        b = b[0]
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or (a.dtype == torch.bool) != (b.dtype == torch.bool):
            return False
        if a.dtype == torch.bool:
            return bool(torch.equal(a, b))
        return bool(torch.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b

