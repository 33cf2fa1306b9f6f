"""Problem 6 (public): the optimizers called the way a training script calls them.

`optimizer = AdamW(model.parameters())` passes a generator, which can be read only once; `step`
may get a closure. The expected numbers below come from the handout's formulas (and, for AdamW,
from torch.optim.AdamW with the same hyperparameters).
"""

import pytest
import torch

from tests.drivers import optimizers_calls as calls

pytestmark = pytest.mark.optimizers

# (name, hyperparameters, grads per step) -> the parameter after each step, starting from [1, -2]
WORKED = {
    "SGD": ({"lr": 0.1}, [[0.5, 1.0]], [[0.95, -2.1]]),
    "AdaGrad": ({"lr": 0.1, "eps": 0.5}, [[0.5, 0.5], [1.0, 1.0]], [[0.942265, -2.057735], [0.866672, -2.133328]]),
    "AdamW": ({"lr": 0.1}, [[0.5, 1.0], [-1.0, 0.25]], [[0.899, -2.098], [0.934711, -2.178962]]),
}


@pytest.mark.parametrize("kind", ["generator", "group_generator"])
@pytest.mark.parametrize("name", ["SGD", "AdaGrad", "AdamW"])
def test_optimizers_accept_model_parameters(impl, name, kind):
    """`params` may be a generator such as model.parameters() (read it once: the base class makes the list) or a generator of param-group dicts."""
    hyper, grads, want = WORKED[name]
    got = impl.run(calls.steps_with_params_as, name=name, kind=kind, params=[torch.tensor([1.0, -2.0])],
                   grads=[[torch.tensor(row)] for row in grads], hyper=hyper)
    after = got["trajectory"][0][1:]
    assert torch.allclose(after, torch.tensor(want), rtol=1e-5, atol=1e-6), (
        f"{name}({hyper}) built from a {kind.replace('_', ' ')} over p = [1, -2], grads {grads}: got {after.tolist()}, "
        f"expected {want}. Hint: pass `params` straight to super().__init__ (a generator can be read only once), "
        "then loop over self.param_groups in step()."
    )


@pytest.mark.parametrize("name", ["SGD", "AdaGrad", "AdamW"])
def test_step_returns_the_closures_loss(impl, name):
    """If a closure is given, step calls it (with grad enabled) and returns its loss; without one it returns None."""
    got = impl.run(calls.steps_with_closure, name=name, params=[torch.tensor([1.0, -2.0])],
                   targets=[torch.tensor([0.0, 0.0])], hyper={"lr": 0.1}, steps=1)
    assert got["calls"] == 1 and got["grad_enabled"] == [True], (
        f"{name}.step(closure) ran the closure {got['calls']} time(s), grad enabled: {got['grad_enabled']}. "
        "Hint: `with torch.enable_grad(): loss = closure()` (step itself runs under no_grad)."
    )
    assert got["returned"] == [pytest.approx(5.0)], (
        f"{name}.step(closure) returned {got['returned'][0]!r}; the closure's loss at p = [1, -2] is 5.0. Hint: return it."
    )
    assert got["returned_without_closure"] is None, f"{name}.step() returned {got['returned_without_closure']!r}, expected None."
