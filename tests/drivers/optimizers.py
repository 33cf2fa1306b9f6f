"""Drivers for problem 6: drive an optimizer over given gradients, return plain data.

`impl` is anything with an `optimizers` attribute holding the classes by name. In the worker
that is the implementation under test; on the trusted side tests/oracles/optimizers.py runs
the same driver on PyTorch's own optimizers to get the expected trajectory (this module only
drives; it names no optimizer of its own).
"""

import copy

import torch

from tests.drivers import fresh_process


def _plain(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return repr(value)


def _build(impl, name, params, hyper, groups):
    cls = getattr(impl.optimizers, name)
    if groups is None:
        return cls(params, **hyper)
    param_groups = []
    for group in groups:
        options = {key: value for key, value in group.items() if key != "indices"}
        param_groups.append({"params": [params[i] for i in group["indices"]], **options})
    return cls(param_groups, **hyper)


def _state_of(optimizer, params) -> tuple[list, list]:
    """Per parameter: its state as plain data (None when it has none), and the state's devices."""
    states, devices = [], []
    for p in params:
        state = optimizer.state.get(p) or {}
        states.append({key: _plain(value) for key, value in state.items()} or None)
        devices.append(sorted({str(v.device) for v in state.values() if isinstance(v, torch.Tensor)}))
    return states, devices


def run_optimizer(impl, name, params, grads, hyper=None, groups=None, keep_state_dict=False) -> dict:
    """Optimise copies of `params`: at step s each parameter's .grad is set to grads[s][i]
    (None leaves it unset), then `step()` runs.

    `groups`: None (a plain list of parameters) or a list of dicts, each with the
    "indices" of its parameters plus per-group options such as "lr".
    Returns each parameter's trajectory (a tensor of shape (steps + 1, *shape)), its final
    state and the devices that state lives on; with `keep_state_dict`, also a copy of
    `state_dict()` after the last step (for `continue_optimizer`).
    """
    params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    optimizer = _build(impl, name, params, dict(hyper or {}), groups)
    out = _steps(optimizer, params, grads)
    if keep_state_dict:
        out["state_dict"] = copy.deepcopy(optimizer.state_dict())
    return out


@fresh_process
def continue_optimizer(impl, name, params, state_dict, grads, hyper=None, groups=None) -> dict:
    """A fresh optimizer over fresh copies of `params`, `load_state_dict(state_dict)`, then the
    steps of `grads`, as in run_optimizer (the trajectory starts at `params`).

    Run in a new process: the only state that reaches it is the state_dict it is given.
    """
    params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    optimizer = _build(impl, name, params, dict(hyper or {}), groups)
    optimizer.load_state_dict(state_dict)
    return _steps(optimizer, params, grads)


def reloaded_at(impl, name, params, grads, save_at, hyper=None, groups=None) -> dict:
    """run_optimizer for `save_at` steps, then continue_optimizer from its state_dict, in ONE
    process: the hint probes' single call (a test makes the two calls). The whole trajectory."""
    first = run_optimizer(impl, name, params, grads[:save_at], hyper, groups, keep_state_dict=True)
    rest = continue_optimizer(impl, name, [t[-1] for t in first["trajectory"]], first["state_dict"], grads[save_at:], hyper, groups)
    rest["trajectory"] = [torch.cat([a, b[1:]]) for a, b in zip(first["trajectory"], rest["trajectory"])]
    return rest


def _steps(optimizer, params, grads) -> dict:
    history = [[p.detach().clone()] for p in params]
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else g.detach().clone().to(device=p.device, dtype=p.dtype)
        optimizer.step()
        for record, p in zip(history, params):
            record.append(p.detach().clone())
    states, devices = _state_of(optimizer, params)
    return {
        "trajectory": [torch.stack(record) for record in history],
        "state": states,
        "state_devices": devices,
    }


def construct(impl, name, hyper) -> dict:
    """Build optimizer `name` with keyword hyperparameters `hyper` over one parameter;
    return its param group's options (exceptions, e.g. ValueError, propagate)."""
    optimizer = getattr(impl.optimizers, name)([torch.nn.Parameter(torch.zeros(2))], **hyper)
    group = optimizer.param_groups[0]
    return {key: _plain(value) for key, value in group.items() if key != "params"}
