"""Problem 6 (public): SGD, AdaGrad and AdamW, checked against PyTorch and the formulas."""

import types

import pytest
import torch

from tests.drivers import optimizers as drivers

pytestmark = pytest.mark.optimizers

# PyTorch's own optimizers, driven here by the very same driver: the expected trajectory.
TORCH = types.SimpleNamespace(optimizers=torch.optim)


def _steps(*rows):
    return [[torch.tensor(g) if g is not None else None for g in row] for row in rows]


def test_sgd_steps_match_worked_example_and_torch(impl):
    """SGD: p <- p - lr * grad, every step (p = [1, -2], grad = [0.5, 1], lr = 0.1 gives [0.95, -2.1])."""
    params = [torch.tensor([1.0, -2.0])]
    grads = _steps([[0.5, 1.0]], [[-1.0, 0.25]], [[2.0, 0.0]])
    got = impl.run(drivers.run_optimizer, name="SGD", params=params, grads=grads, hyper={"lr": 0.1})
    first = got["trajectory"][0][1]
    torch.testing.assert_close(first, torch.tensor([0.95, -2.1]), msg=lambda m: (
        f"SGD(lr=0.1), p=[1, -2], grad=[0.5, 1]: after one step got {first.tolist()}, expected "
        f"[0.95, -2.1]. Hint: p -= lr * p.grad, in place, under torch.no_grad(). {m}"))
    want = drivers.run_optimizer(TORCH, name="SGD", params=params, grads=grads, hyper={"lr": 0.1})
    torch.testing.assert_close(got["trajectory"][0], want["trajectory"][0], msg=lambda m: (
        f"SGD(lr=0.1) over 3 steps: trajectory {got['trajectory'][0].tolist()}, torch.optim.SGD gives "
        f"{want['trajectory'][0].tolist()}. {m}"))


def test_adagrad_two_steps_match_formula_and_keep_g2(impl, expected_values):
    """AdaGrad: g2 += grad**2, then p -= lr * grad / sqrt(g2 + eps) (eps inside the root); the sum of squares lives in state["g2"]."""
    lr, eps = 0.1, 0.5  # a large eps, so that inside vs outside the root differ clearly
    params = [torch.tensor([1.0, -2.0])]
    grads = _steps([[0.5, 1.0]], [[1.0, -2.0]])
    got = impl.run(drivers.run_optimizer, name="AdaGrad", params=params, grads=grads, hyper={"lr": lr, "eps": eps})
    want = expected_values["optimizers.adagrad_two_steps"]
    expected, g2 = want["trajectory"][1:], want["g2"]
    torch.testing.assert_close(got["trajectory"][0][1:], torch.tensor(expected), msg=lambda m: (
        f"AdaGrad(lr={lr}, eps={eps}), p=[1, -2], grads [0.5, 1] then [1, -2]: got "
        f"{got['trajectory'][0][1:].tolist()}, expected {expected}. Hint: eps goes inside the square root. {m}"))
    state = got["state"][0] or {}
    assert "g2" in state, f"AdaGrad state keys: {sorted(state)}, expected a 'g2' entry (self.state[p]['g2'])."
    torch.testing.assert_close(state["g2"], torch.tensor(g2), msg=lambda m: (
        f"AdaGrad state['g2'] after grads [0.5, 1] and [1, -2]: got {state['g2'].tolist()}, expected {g2} "
        f"(the running sum of grad**2). {m}"))


def test_adamw_matches_torch_adamw_over_100_steps(impl):
    """AdamW follows torch.optim.AdamW step for step: bias-corrected moments, eps added after the square root, decoupled weight decay p *= 1 - lr * weight_decay."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)]
    grads = [[torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)] for _ in range(100)]
    for hyper in [{}, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.3}]:
        got = impl.run(drivers.run_optimizer, name="AdamW", params=params, grads=grads, hyper=hyper)
        want = drivers.run_optimizer(TORCH, name="AdamW", params=params, grads=grads, hyper=hyper)
        for i in range(2):
            diff = (got["trajectory"][i] - want["trajectory"][i]).abs().flatten(1).amax(1)
            first_bad = int((diff > 1e-5).nonzero()[0]) if (diff > 1e-5).any() else None
            torch.testing.assert_close(got["trajectory"][i], want["trajectory"][i], msg=lambda m: (
                f"AdamW({hyper or 'defaults'}), parameter {i}: the trajectory leaves torch.optim.AdamW's "
                f"at step {first_bad}. Hint: step counts from 1; bias-correct m and v; "
                f"decay the weights by lr * weight_decay before the update. {m}"))


@pytest.mark.parametrize("name", ["SGD", "AdaGrad", "AdamW"])
def test_param_with_grad_none_is_skipped(impl, name):
    """A parameter whose .grad is None is left untouched (no weight decay either) and gets no state; the others still step."""
    params = [torch.tensor([1.0, 2.0]), torch.tensor([3.0])]
    grads = _steps([[0.5, -0.5], None], [[0.5, -0.5], None])
    got = impl.run(drivers.run_optimizer, name=name, params=params, grads=grads, hyper={"lr": 0.1})
    skipped = got["trajectory"][1]
    assert torch.equal(skipped, torch.tensor([[3.0], [3.0], [3.0]])), (
        f"{name}(lr=0.1): a parameter [3.0] whose grad stays None moved: {skipped.tolist()}. "
        "Hint: `if p.grad is None: continue` before touching p or its state.")
    assert got["state"][1] is None, (
        f"{name}: a parameter that never had a grad has state {got['state'][1]}, expected none.")
    assert not torch.equal(got["trajectory"][0][-1], params[0]), f"{name}: the parameter with a grad did not move."


def saved_and_resumed(impl, name, params, grads, hyper, save_at) -> torch.Tensor:
    """The first parameter's trajectory: `save_at` steps, state_dict() sent back here, then a
    fresh optimizer (in a fresh process, under the grader) load_state_dict()s it and goes on."""
    first = impl.run(drivers.run_optimizer, name=name, params=params, grads=grads[:save_at], hyper=hyper, keep_state_dict=True)
    rest = impl.run(drivers.continue_optimizer, name=name, params=[t[-1] for t in first["trajectory"]],
                    state_dict=first["state_dict"], grads=grads[save_at:], hyper=hyper)
    return torch.cat([first["trajectory"][0], rest["trajectory"][0][1:]])


@pytest.mark.parametrize("name", ["AdaGrad", "AdamW"])
def test_state_dict_round_trip_continues_identically(impl, expected_values, name):
    """After state_dict() -> load_state_dict() into a fresh optimizer, training continues exactly as if never interrupted: keep all state in self.state[p] and hyperparameters in param_groups."""
    gen = torch.Generator().manual_seed(1)
    params = [torch.randn(4, generator=gen)]
    grads = [[torch.randn(4, generator=gen)] for _ in range(6)]
    resumed = saved_and_resumed(impl, name, params, grads, {"lr": 0.05}, save_at=3)
    if name == "AdamW":
        straight = drivers.run_optimizer(TORCH, name=name, params=params, grads=grads, hyper={"lr": 0.05})["trajectory"][0]
    else:  # PyTorch's Adagrad is another algorithm: the reference's uninterrupted run, as numbers
        straight = torch.tensor(expected_values["optimizers.adagrad_uninterrupted"])
    torch.testing.assert_close(resumed, straight, msg=lambda m: (
        f"{name}(lr=0.05): saved after 3 of 6 steps and reloaded into a fresh optimizer, the last steps "
        f"differ from an uninterrupted run. Hint: no state outside self.state (e.g. no step counter on self). {m}"))


# Two steps of each optimizer with its defaults from p = [1, -2], grad [0.5, 1] (torch.optim for
# SGD and AdamW; AdaGrad's spec'd formula).
TWO_DEFAULT_STEPS = {"SGD": [0.99, -2.02], "AdaGrad": [0.9829292, -2.017071], "AdamW": [0.99798, -2.0019598]}


@pytest.mark.parametrize("name, hyper", [
    ("SGD", {"lr": -0.1}),
    ("AdaGrad", {"lr": -1e-3}),
    ("AdaGrad", {"eps": -1e-5}),
    ("AdamW", {"lr": -1e-3}),
    ("AdamW", {"eps": -1e-8}),
    ("AdamW", {"weight_decay": -0.1}),
    ("AdamW", {"betas": (1.0, 0.999)}),
    ("AdamW", {"betas": (0.9, -0.1)}),
])
def test_bad_hyperparameters_raise_value_error(impl, name, hyper):
    """Negative lr, eps or weight decay, or betas outside [0, 1), raise ValueError in the constructor (as torch.optim does). A refusal pays only where the optimizer also steps right with its defaults."""
    with pytest.raises(ValueError):
        impl.run(drivers.construct, name=name, hyper=hyper)
        pytest.fail(f"{name}(**{hyper}) built without complaint; expected ValueError.")
    got = impl.run(drivers.run_optimizer, name=name, params=[torch.tensor([1.0, -2.0])], grads=_steps([[0.5, 1.0]], [[0.5, 1.0]]))
    last = got["trajectory"][0][-1]
    torch.testing.assert_close(last, torch.tensor(TWO_DEFAULT_STEPS[name]), msg=lambda m: (
        f"{name}() with its default hyperparameters, p = [1, -2], grad [0.5, 1] twice: got {last.tolist()}, "
        f"expected {TWO_DEFAULT_STEPS[name]}. A refusal pays only where the optimizer also steps right. {m}"))


def test_param_groups_use_their_own_lr(impl):
    """Param groups may set their own lr (read group['lr'] inside step(), not a value saved in __init__); an empty group is allowed."""
    params = [torch.tensor([1.0]), torch.tensor([1.0])]
    groups = [{"indices": [0]}, {"indices": [1], "lr": 0.5}, {"indices": []}]
    got = impl.run(drivers.run_optimizer, name="SGD", params=params, grads=_steps([[1.0], [1.0]]),
                   hyper={"lr": 0.1}, groups=groups)
    ends = [t[-1].item() for t in got["trajectory"]]
    assert ends == pytest.approx([0.9, 0.5]), (
        f"SGD(lr=0.1) with groups [default lr, lr=0.5, empty], p = 1, grad = 1: got {ends}, "
        "expected [0.9, 0.5]. Hint: loop over self.param_groups and use each group's 'lr'.")
