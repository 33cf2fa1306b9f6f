"""Problem 6 (hidden): the promises the handout makes for all three optimizers, with inputs built
the ways students build them: `params` as a generator (`model.parameters()`), a tuple or a generator
of param-group dicts; `step(closure)`; hyperparameters given one at a time; updates in place; state
in the parameter's dtype; gradients that are zero or cancel.

Expected values are computed here (trusted side): PyTorch's own SGD and AdamW over a plain list,
and AdaGrad from its two-line definition. The scenarios (tests/drivers/optimizers_calls.py) only
drive the optimizer under test and report what it did.
"""

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.drivers import optimizers_calls as calls

pytestmark = pytest.mark.optimizers

FLOAT32 = dict(rtol=1.3e-6, atol=1e-5)
NAMES = ["SGD", "AdaGrad", "AdamW"]
DEFAULTS = {"SGD": {"lr": 1e-2}, "AdaGrad": {"lr": 1e-2, "eps": 1e-5},
            "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}}


def _problem(seed: int, steps: int = 3, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(3, generator=g, dtype=dtype), torch.randn(2, 2, generator=g, dtype=dtype)]
    grads = [[torch.randn(3, generator=g, dtype=dtype), torch.randn(2, 2, generator=g, dtype=dtype)] for _ in range(steps)]
    return params, grads


def _oracle(name: str, params: list, grads: list, hyper: dict, grad_of=None) -> list:
    """Trajectories (steps + 1, *shape) per parameter, computed here. `grad_of(params)` (the closure
    case) gives each step's gradients from the current parameters instead of the rows of `grads`."""
    full = {**DEFAULTS[name], **hyper}
    ps = [torch.nn.Parameter(p.detach().clone()) for p in params]
    history = [[p.detach().clone()] for p in ps]
    optimizer = None if name == "AdaGrad" else getattr(torch.optim, name)(ps, **full)
    g2 = [torch.zeros_like(p) for p in ps]
    for row in grads:
        row = row if grad_of is None else grad_of([p.detach() for p in ps])
        if optimizer is None:
            with torch.no_grad():
                for i, (p, g) in enumerate(zip(ps, row)):
                    if g is not None:
                        g2[i] = g2[i] + g * g
                        p -= full["lr"] * g / torch.sqrt(g2[i] + full["eps"])
        else:
            for p, g in zip(ps, row):
                p.grad = None if g is None else g.detach().clone()
            optimizer.step()
        for record, p in zip(history, ps):
            record.append(p.detach().clone())
    return [torch.stack(record) for record in history]


def _assert_trajectories(got: list, want: list, what: str):
    assert len(got) == len(want), what
    for i, (mine, theirs) in enumerate(zip(got, want)):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype, f"{what}: parameter {i}'s shape or dtype"
        torch.testing.assert_close(mine, theirs, **FLOAT32, msg=f"{what}: parameter {i} leaves the expected trajectory")


@pytest.mark.parametrize("kind", ["generator", "module", "tuple", "group_generator"])
@pytest.mark.parametrize("name", NAMES)
def test_params_may_be_any_iterable_pytorch_accepts(impl, name, kind):
    """`params` is anything PyTorch accepts: model.parameters() (a generator), a tuple, a generator of param-group dicts."""
    params, grads = _problem(seed=3)
    hyper = {"lr": 0.05}
    got = impl.run(calls.steps_with_params_as, name=name, kind=kind, params=params, grads=grads, hyper=hyper)
    _assert_trajectories(got["trajectory"], _oracle(name, params, grads, hyper), f"{name} over params given as {kind}")
    assert got["num_groups"] == (2 if kind == "group_generator" else 1), f"{name}: param groups from {kind}"


@pytest.mark.parametrize("name", NAMES)
def test_step_calls_the_closure_with_grad_and_returns_its_loss(impl, name):
    """step(closure) calls the closure once, with grad enabled, steps on the gradients it computed and returns its loss; step() returns None."""
    params, _ = _problem(seed=5)
    targets = [torch.full_like(p, 0.25) for p in params]
    hyper, steps = {"lr": 0.1}, 3
    got = impl.run(calls.steps_with_closure, name=name, params=params, targets=targets, hyper=hyper, steps=steps)
    assert got["calls"] == steps, f"{name}.step(closure) ran the closure {got['calls']} times in {steps} steps"
    assert got["grad_enabled"] == [True] * steps, f"{name}: the closure must run with grad enabled"
    assert got["returned_without_closure"] is None, f"{name}.step() without a closure must return None"
    want = _oracle(name, params, [None] * steps, hyper, grad_of=lambda ps: [2 * (p - t) for p, t in zip(ps, targets)])
    losses = [float(sum(((want[i][s] - t) ** 2).sum() for i, t in enumerate(targets))) for s in range(steps)]
    _assert_trajectories(got["trajectory"], want, f"{name}.step(closure)")
    assert all(isinstance(v, float) for v in got["returned"]), f"{name}.step(closure) returned {got['returned']}"
    torch.testing.assert_close(torch.tensor(got["returned"]), torch.tensor(losses), rtol=1e-5, atol=1e-6,
                               msg=f"{name}.step(closure) must return the closure's loss")


@pytest.mark.parametrize("name", NAMES)
def test_updates_are_in_place(impl, name):
    """Each step updates the parameter tensor itself (in place, under no_grad): views of it see the new values."""
    params, grads = _problem(seed=7)
    got = impl.run(calls.steps_with_params_as, name=name, kind="list", params=params, grads=grads, hyper={"lr": 0.05})
    assert got["in_place"] == [True, True], f"{name}: a parameter was replaced instead of updated in place"


@pytest.mark.parametrize("name", ["AdaGrad", "AdamW"])
def test_state_has_the_parameter_dtype(impl, name):
    """State is created at a parameter's first step with its device and dtype (torch.zeros_like(p)): float64 parameters keep float64 state."""
    params, grads = _problem(seed=9, dtype=torch.float64)
    got = impl.run(calls.steps_with_params_as, name=name, kind="list", params=params, grads=grads, hyper={"lr": 0.05})
    assert got["state_dtypes"] == [["torch.float64"], ["torch.float64"]], f"{name}: state dtypes {got['state_dtypes']}"
    _assert_trajectories(got["trajectory"], _oracle(name, params, grads, {"lr": 0.05}), f"{name} in float64")


OPTIONAL = {
    "SGD": {"lr": st.floats(0.0, 0.5)},
    "AdaGrad": {"lr": st.floats(0.0, 0.5), "eps": st.floats(1e-10, 1.0)},
    "AdamW": {"lr": st.floats(0.0, 0.1), "betas": st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999)),
              "eps": st.floats(1e-10, 1e-1), "weight_decay": st.floats(0.0, 1.0)},
}


@st.composite
def _named_hyperparameters(draw):
    """An optimizer and a subset of its hyperparameters, each present or absent on its own."""
    name = draw(st.sampled_from(NAMES))
    return name, draw(st.fixed_dictionaries({}, optional=OPTIONAL[name]))


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(case=_named_hyperparameters(), seed=st.integers(0, 1000))
@example(case=("AdamW", {"weight_decay": 0.5}), seed=0).via("one keyword, the others defaults")
@example(case=("AdamW", {"eps": 0.1}), seed=1)
@example(case=("AdamW", {"betas": (0.5, 0.6)}), seed=2)
@example(case=("AdamW", {"lr": 0.05}), seed=3)
@example(case=("AdaGrad", {"eps": 0.5}), seed=4)
@example(case=("AdaGrad", {"lr": 0.2}), seed=5)
@example(case=("SGD", {}), seed=6)
def test_hyperparameters_given_one_at_a_time(impl, case, seed):
    """Each keyword works on its own, the others taking the documented defaults (drawn independently, not all together)."""
    name, hyper = case
    params, grads = _problem(seed=seed, steps=4)
    got = impl.run(calls.steps_with_params_as, name=name, kind="list", params=params, grads=grads, hyper=hyper)
    _assert_trajectories(got["trajectory"], _oracle(name, params, grads, hyper), f"{name}({hyper})")


def _cancelling_grads():
    """Zero gradients, a gradient then its negative, and zero again: inputs random draws never make."""
    g = torch.tensor([0.5, -2.0, 0.0])
    return [[torch.zeros(3)], [g], [-g], [torch.zeros(3)], [g.clone()]]


@pytest.mark.parametrize("name", NAMES)
def test_zero_and_cancelling_gradients(impl, name):
    """Exactly-zero gradients (AdaGrad's g2 still 0: eps keeps the step finite) and gradients that cancel follow the same rules."""
    params, grads = [torch.tensor([1.0, -1.0, 0.0])], _cancelling_grads()
    hyper = {"lr": 0.1, "eps": 1e-3} if name == "AdaGrad" else {"lr": 0.1}
    got = impl.run(calls.steps_with_params_as, name=name, kind="list", params=params, grads=grads, hyper=hyper)
    want = _oracle(name, params, grads, hyper)
    assert torch.isfinite(got["trajectory"][0]).all(), f"{name}: a zero gradient made the parameter non-finite"
    _assert_trajectories(got["trajectory"], want, f"{name} with zero and cancelling gradients")
