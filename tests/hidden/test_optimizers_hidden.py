"""Problem 6 (hidden): the optimizers against PyTorch's own (SGD, AdamW), AdaGrad's formula,
and the reference, over hypothesis-drawn hyperparameters, shapes, param groups and None grads.

PyTorch's optimizers run through the same driver as the implementation (the driver only
needs an object whose `optimizers` attribute holds the classes by name), here, on the
trusted side (tests/oracles/optimizers.py). Trajectories are compared with assert_close's float32 tolerances, the
spec's promise, whatever the parameters' dtype.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.drivers import optimizers as drivers
from tests.oracles.optimizers import TORCH
from tests.strategies import (
    OptimizerProblem,
    adagrad_hyperparameters,
    adamw_hyperparameters,
    optimizer_groups,
    optimizer_problems,
    optimizer_tensors,
    sgd_hyperparameters,
)

pytestmark = pytest.mark.optimizers


FLOAT32 = dict(rtol=1.3e-6, atol=1e-5)
# The `device` fixture is parametrised, not state: hypothesis may reuse it across examples.
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors]

# Must-catch cases, as explicit examples.
EMPTY_GROUP = OptimizerProblem(((2, 3), (4,)), "float32", 1, 5, (0, 0), (((0,), None), ((), 0.5), ((1,), 0.01)))
NONE_GRADS = OptimizerProblem(((3,), (2, 2), ()), "float32", 2, 7, (1, 2, 3), None)
EDGE_SHAPES = OptimizerProblem(((0,), (), (1, 1, 3)), "float64", 3, 4, (0, 0, 0), None)
GROUP_LRS = OptimizerProblem(((3,), (3,), (2,)), "float32", 4, 6, (0, 3, 0), (((0, 2), 0.05), ((1,), None)))


def _run(impl, name, problem, hyper, device):
    params, grads = optimizer_tensors(problem, device)
    return impl.run(drivers.run_optimizer, name=name, params=params, grads=grads, hyper=hyper,
                    groups=optimizer_groups(problem))


def _saved_and_resumed(impl, name, problem, hyper, device, save_at):
    """`save_at` steps; state_dict() comes back here and goes to a fresh optimizer in a fresh
    process, which load_state_dict()s it and takes the remaining steps: the whole trajectory."""
    params, grads = optimizer_tensors(problem, device)
    groups = optimizer_groups(problem)
    first = impl.run(drivers.run_optimizer, name=name, params=params, grads=grads[:save_at], hyper=hyper,
                     groups=groups, keep_state_dict=True)
    rest = impl.run(drivers.continue_optimizer, name=name, params=[t[-1] for t in first["trajectory"]],
                    state_dict=first["state_dict"], grads=grads[save_at:], hyper=hyper, groups=groups)
    return {"trajectory": [torch.cat([a, b[1:]]) for a, b in zip(first["trajectory"], rest["trajectory"])]}


def _assert_same_trajectories(got, want):
    assert len(got["trajectory"]) == len(want["trajectory"])
    for mine, theirs in zip(got["trajectory"], want["trajectory"]):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        torch.testing.assert_close(mine, theirs, **FLOAT32)


def _assert_skips_none_grads(got, problem, device):
    """Parameters never given a grad: unchanged, stateless. Every state tensor on the param's device."""
    for i, every in enumerate(problem.none_every):
        trajectory = got["trajectory"][i]
        if every == 1 or problem.num_steps == 0:
            assert torch.equal(trajectory, trajectory[:1].expand_as(trajectory)), f"param {i} moved without a grad"
            assert got["state"][i] is None, f"param {i} got state without a grad"
        elif every:
            # A step with grad None leaves the parameter exactly where it was.
            for step in range(0, problem.num_steps, every):
                assert torch.equal(trajectory[step + 1], trajectory[step]), f"param {i} moved at step {step}"
        for where in got["state_devices"][i]:
            assert where.split(":")[0] == device, f"param {i}'s state is on {where}, not {device}"


def _adagrad_oracle(problem, hyper, device):
    """AdaGrad straight from its two-line definition (groups' lr overrides included)."""
    params, grads = optimizer_tensors(problem, device)
    lr_of = {}
    for group in optimizer_groups(problem) or [{"indices": range(len(params))}]:
        for i in group["indices"]:
            lr_of[i] = group.get("lr", hyper["lr"])
    p = [t.clone() for t in params]
    g2 = [None] * len(params)
    history = [[t.clone()] for t in p]
    for row in grads:
        for i, g in enumerate(row):
            if g is not None:
                g2[i] = g * g if g2[i] is None else g2[i] + g * g
                p[i] = p[i] - lr_of[i] * g / torch.sqrt(g2[i] + hyper["eps"])
            history[i].append(p[i].clone())
    return {"trajectory": [torch.stack(h) for h in history], "g2": g2}


# --- SGD ------------------------------------------------------------------------------


@settings(suppress_health_check=FIXTURE_OK)
@given(problem=optimizer_problems(), hyper=sgd_hyperparameters())
@example(problem=EMPTY_GROUP, hyper={"lr": 0.1}).via("an empty param group")
@example(problem=NONE_GRADS, hyper={"lr": 0.1}).via("grads of None")
@example(problem=EDGE_SHAPES, hyper={"lr": 0.0}).via("size-0 and scalar params, lr 0")
@example(problem=GROUP_LRS, hyper={"lr": 0.3}).via("per-group lr")
def test_sgd_matches_torch_sgd(impl, ref, device, problem, hyper):
    """SGD steps p -= lr * grad with each group's own lr, and skips parameters whose grad is None, as torch.optim.SGD does."""
    got = _run(impl, "SGD", problem, hyper, device)
    _assert_same_trajectories(got, _run(TORCH, "SGD", problem, hyper, device))
    _assert_same_trajectories(got, _run(ref, "SGD", problem, hyper, device))
    _assert_skips_none_grads(got, problem, device)


# --- AdaGrad --------------------------------------------------------------------------


@settings(suppress_health_check=FIXTURE_OK)
@given(problem=optimizer_problems(), hyper=adagrad_hyperparameters())
@example(problem=EMPTY_GROUP, hyper={"lr": 0.1, "eps": 1e-5}).via("an empty param group")
@example(problem=NONE_GRADS, hyper={"lr": 0.1, "eps": 0.5}).via("grads of None, a large eps")
@example(problem=EDGE_SHAPES, hyper={"lr": 0.2, "eps": 1e-10}).via("size-0 and scalar params")
@example(problem=GROUP_LRS, hyper={"lr": 0.3, "eps": 1.0}).via("per-group lr")
def test_adagrad_matches_formula_and_reference(impl, ref, device, problem, hyper):
    """AdaGrad: state["g2"] accumulates grad**2 and p -= lr * grad / sqrt(g2 + eps), eps inside the root, per group lr, None grads skipped."""
    got = _run(impl, "AdaGrad", problem, hyper, device)
    want = _adagrad_oracle(problem, hyper, device)
    _assert_same_trajectories(got, want)
    _assert_same_trajectories(got, _run(ref, "AdaGrad", problem, hyper, device))
    _assert_skips_none_grads(got, problem, device)
    for state, g2 in zip(got["state"], want["g2"]):
        if g2 is not None:
            assert state is not None and "g2" in state, "AdaGrad keeps its sum of squares in state['g2']"
            torch.testing.assert_close(state["g2"], g2, **FLOAT32)


# --- AdamW ----------------------------------------------------------------------------


@settings(max_examples=25, suppress_health_check=FIXTURE_OK)
@given(problem=optimizer_problems(min_steps=100, max_steps=100), hyper=adamw_hyperparameters())
@example(problem=EMPTY_GROUP._replace(num_steps=100), hyper={}).via("defaults, an empty group")
@example(problem=NONE_GRADS._replace(num_steps=100),
         hyper={"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-2, "weight_decay": 0.5}).via("grads of None")
@example(problem=EDGE_SHAPES._replace(num_steps=100),
         hyper={"lr": 0.01, "betas": (0.0, 0.0), "eps": 1e-8, "weight_decay": 0.0}).via("betas 0, odd shapes")
@example(problem=GROUP_LRS._replace(num_steps=100),
         hyper={"lr": 0.02, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}).via("per-group lr")
def test_adamw_matches_torch_adamw_over_100_steps(impl, device, problem, hyper):
    """AdamW follows torch.optim.AdamW for 100 steps: per-parameter step counts from 1, bias-corrected moments, eps after the root, decoupled decay p *= 1 - lr * weight_decay."""
    got = _run(impl, "AdamW", problem, hyper, device)
    _assert_same_trajectories(got, _run(TORCH, "AdamW", problem, hyper, device))
    _assert_skips_none_grads(got, problem, device)


@settings(suppress_health_check=FIXTURE_OK)
@given(problem=optimizer_problems(), hyper=adamw_hyperparameters())
@example(problem=NONE_GRADS, hyper={}).via("grads of None")
@example(problem=GROUP_LRS, hyper={"lr": 0.05, "betas": (0.3, 0.6), "eps": 1e-3, "weight_decay": 0.9})
def test_adamw_matches_reference(impl, ref, device, problem, hyper):
    """AdamW matches the reference (and so PyTorch) over short runs with drawn hyperparameters, groups and None grads."""
    got = _run(impl, "AdamW", problem, hyper, device)
    _assert_same_trajectories(got, _run(ref, "AdamW", problem, hyper, device))
    _assert_skips_none_grads(got, problem, device)


# --- state_dict -----------------------------------------------------------------------


# 15 drawn examples, not 30: each reloads in a fresh worker (a spawn, ~7 ms idle); the explicit
# examples below carry the must-catch cases.
@settings(max_examples=15, suppress_health_check=FIXTURE_OK)
@given(name=st.sampled_from(["SGD", "AdaGrad", "AdamW"]),
       problem=optimizer_problems(min_steps=2, max_steps=10), data=st.data())
@example(name="AdamW", problem=NONE_GRADS, data=None).via("AdamW with None grads")
@example(name="AdaGrad", problem=GROUP_LRS, data=None).via("AdaGrad with groups")
@example(name="AdamW", problem=EMPTY_GROUP, data=None).via("AdamW with an empty group")
def test_state_dict_round_trip_continues_identically(impl, ref, device, name, problem, data):
    """state_dict() then load_state_dict() into a fresh optimizer over fresh parameters continues exactly like an uninterrupted run (all state in self.state[p])."""
    save_at = data.draw(st.integers(1, problem.num_steps - 1)) if data is not None else problem.num_steps // 2
    hyper = {"lr": 0.05}
    resumed = _saved_and_resumed(impl, name, problem, hyper, device, save_at)
    oracle = ref if name == "AdaGrad" else TORCH  # the uninterrupted run, computed here
    _assert_same_trajectories(resumed, _run(oracle, name, problem, hyper, device))
    straight = _run(impl, name, problem, hyper, device)  # and exactly the submission's own uninterrupted run
    for a, b in zip(resumed["trajectory"], straight["trajectory"]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# --- hyperparameter checks ------------------------------------------------------------


BAD = [
    ("SGD", {"lr": -1e-3}),
    ("SGD", {"lr": -math.inf}),
    ("AdaGrad", {"lr": -0.5}),
    ("AdaGrad", {"eps": -1e-12}),
    ("AdamW", {"lr": -1e-6}),
    ("AdamW", {"eps": -1e-12}),
    ("AdamW", {"weight_decay": -1e-3}),
    ("AdamW", {"betas": (1.0, 0.999)}),
    ("AdamW", {"betas": (0.9, 1.0)}),
    ("AdamW", {"betas": (-0.1, 0.999)}),
    ("AdamW", {"betas": (0.9, -1e-3)}),
    ("AdamW", {"betas": (0.9, 1.5)}),
]


@pytest.mark.parametrize("name, hyper", BAD, ids=[f"{n}-{h}" for n, h in BAD])
def test_bad_hyperparameters_raise_value_error(impl, ref, name, hyper):
    """Negative lr, eps or weight_decay, and betas outside [0, 1) (1.0 included), raise ValueError in the constructor; a refusal pays only where the optimizer also steps right."""
    with pytest.raises(ValueError):
        impl.run(drivers.construct, name=name, hyper=hyper)
    with pytest.raises(ValueError):  # the reference agrees...
        ref.run(drivers.construct, name=name, hyper=hyper)
    if name != "AdaGrad":  # ...and so does PyTorch (its Adagrad is another algorithm)
        with pytest.raises(ValueError):
            drivers.construct(TORCH, name=name, hyper=hyper)
    _assert_steps_like_the_reference(impl, ref, name, {})


def _assert_steps_like_the_reference(impl, ref, name, hyper):
    """The optimizer also computes: a few valid steps follow the reference's trajectory."""
    _assert_same_trajectories(_run(impl, name, GROUP_LRS, hyper, "cpu"), _run(ref, name, GROUP_LRS, hyper, "cpu"))


@pytest.mark.parametrize("name, hyper", [
    ("SGD", {"lr": 0.0}),
    ("AdaGrad", {"lr": 0.0, "eps": 0.0}),
    ("AdamW", {"lr": 0.0, "betas": (0.0, 0.0), "eps": 0.0, "weight_decay": 0.0}),
    ("AdamW", {"betas": [0.5, 0.999999]}),
])
def test_boundary_hyperparameters_are_accepted(impl, ref, name, hyper):
    """Zero lr, eps, weight decay and betas of 0 are valid (the checks are >= 0 and 0 <= beta < 1); betas may come as a list. It pays only where the optimizer also steps right."""
    impl.run(drivers.construct, name=name, hyper=hyper)  # must not raise
    _assert_steps_like_the_reference(impl, ref, name, {"lr": 0.01})
