"""Drivers for problem 6, calling the optimizers the ways students do (no oracle here).

`params` reach the constructor as a generator (`model.parameters()`), a tuple, a generator of
param-group dicts or a module's `.parameters()`; `step(closure)` gets a closure that computes a
loss and its gradients. Each driver returns what the optimizer did as plain data; the tests
compute what it should have done on the trusted side.
"""

import torch


def _as_argument(kind: str, params: list):
    """`params` in the form a student's script would pass them."""
    if kind == "list":
        return list(params)
    if kind == "tuple":
        return tuple(params)
    if kind == "generator":
        return (p for p in params)
    if kind == "module":
        holder = torch.nn.Module()
        holder.weights = torch.nn.ParameterList(params)
        return holder.parameters()
    if kind == "group_generator":
        return ({"params": [p]} for p in params)
    raise ValueError(f"no argument kind {kind!r}")


def steps_with_params_as(impl, name: str, kind: str, params: list, grads: list, hyper: dict) -> dict:
    """Build optimizer `name` over `params` passed as `kind`, then step once per row of `grads`.
    Returns each parameter's trajectory and the dtypes and devices of its state tensors."""
    params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    optimizer = getattr(impl.optimizers, name)(_as_argument(kind, params), **hyper)
    history = [[p.detach().clone()] for p in params]
    views = [p.detach() for p in params]  # share storage with the parameters: an in-place update shows here
    for row in grads:
        for p, g in zip(params, row):
            p.grad = None if g is None else g.detach().clone()
        optimizer.step()
        for record, p in zip(history, params):
            record.append(p.detach().clone())
    state = [optimizer.state.get(p) or {} for p in params]
    return {
        "trajectory": [torch.stack(record) for record in history],
        "in_place": [bool(torch.equal(v, p.detach())) and v.data_ptr() == p.data_ptr() for v, p in zip(views, params)],
        "state_dtypes": [sorted({str(v.dtype) for v in s.values() if torch.is_tensor(v) and v.shape == p.shape}) for s, p in zip(state, params)],
        "num_groups": len(optimizer.param_groups),
    }


def steps_with_closure(impl, name: str, params: list, targets: list, hyper: dict, steps: int) -> dict:
    """`steps` calls of optimizer.step(closure), the closure computing sum((p - target)**2) and its
    gradients; then one step() without a closure. Returns what step() returned each time, how often
    the closure ran and whether grad was enabled inside it, and the parameters after each step."""
    params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    optimizer = getattr(impl.optimizers, name)(params, **hyper)
    seen = {"calls": 0, "grad_enabled": []}

    def closure():
        seen["calls"] += 1
        seen["grad_enabled"].append(torch.is_grad_enabled())
        optimizer.zero_grad()
        loss = sum(((p - t) ** 2).sum() for p, t in zip(params, targets))
        loss.backward()
        return loss

    returned, history = [], [[p.detach().clone()] for p in params]
    for _ in range(steps):
        returned.append(_plain(optimizer.step(closure)))
        for record, p in zip(history, params):
            record.append(p.detach().clone())
    without = _plain(optimizer.step())
    return {
        "returned": returned,
        "returned_without_closure": without,
        "calls": seen["calls"],
        "grad_enabled": seen["grad_enabled"],
        "trajectory": [torch.stack(record) for record in history],
    }


def _plain(value):
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if torch.is_tensor(value) and value.numel() == 1:
        return float(value.detach())
    return repr(value)
