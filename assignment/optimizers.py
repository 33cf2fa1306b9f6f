"""Problem 6: the optimizer step.

An optimizer turns gradients into parameter updates. Each class here subclasses
`torch.optim.Optimizer`, which already gives you, for free:
- `self.param_groups`: a list of dicts, each with a "params" list and that group's
  hyperparameters (the constructor's `defaults` fill in what a group does not set);
- `self.state`: a dict from parameter to its own state dict (empty until you fill it);
- `zero_grad()`, `state_dict()` and `load_state_dict()`, which work as long as all your
  state lives in `self.state[p]` and all hyperparameters in the param groups.

So each class needs only:
- `__init__(self, params, ...)`: check the hyperparameters (a negative lr, eps or weight
  decay, or a beta outside [0, 1), is a `ValueError`, as in torch.optim), then call
  `super().__init__(params, defaults)` with a dict of the hyperparameters;
- `step(self, closure=None)`: for every group, for every parameter `p` in it whose
  `p.grad` is not None, update `p` in place. Read hyperparameters from the group (a group
  may set its own lr), skip parameters with no gradient entirely (no update, no state),
  and create state lazily with `torch.zeros_like(p)` so it lives on p's device and dtype.
  Run the updates under `torch.no_grad()` (decorate `step`). If a `closure` is given,
  call it (with grad enabled) to get the loss, and return the loss (else None).
"""

import torch
from torch.optim import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent: `p <- p - lr * grad`.

    Example: p = [1.0, -2.0], grad = [0.5, 1.0], lr = 0.1 gives p = [0.95, -2.1].
    """

    def __init__(self, params, lr: float = 1e-2):
        raise NotImplementedError("Problem 6 (optimizers.SGD.__init__): check lr, then call super().__init__")

    def step(self, closure=None):
        raise NotImplementedError("Problem 6 (optimizers.SGD.step): p -= lr * grad for every p with a grad")


class AdaGrad(Optimizer):
    """AdaGrad: each coordinate's step shrinks with the sum of its squared gradients.

    Keep that running sum in `self.state[p]["g2"]` (this key name is required). Each step:
    add grad**2 to g2, then move p by lr * grad divided by the square root of (g2 + eps).
    eps sits *inside* the root here (it keeps the division finite when g2 is 0).

    Why: coordinates that keep getting large gradients take smaller steps, rarely
    updated ones keep large steps. The cost: one extra value of state per parameter.

    Example: lr = 0.1, eps = 0.5, p = 1.0, grads 0.5 then 1.0:
    g2 = 0.25, p = 1 - 0.1 * 0.5 / sqrt(0.75) = 0.94226...; then g2 = 1.25,
    p = 0.94226... - 0.1 * 1.0 / sqrt(1.75) = 0.86667...
    """

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-5):
        raise NotImplementedError("Problem 6 (optimizers.AdaGrad.__init__): check lr and eps, then call super().__init__")

    def step(self, closure=None):
        raise NotImplementedError("Problem 6 (optimizers.AdaGrad.step): accumulate g2, then scale the step")


class AdamW(Optimizer):
    """Adam with decoupled weight decay: the same trajectory as `torch.optim.AdamW`.

    State per parameter (names are yours): a step count t, and exponential moving
    averages m of the gradient (rate beta1) and v of its square (rate beta2), both
    starting at zero. For each step of a parameter that has a gradient:
    1. t increases by one (so the first step has t = 1; each parameter counts its own steps);
    2. weight decay: p shrinks by the factor (1 - lr * weight_decay). It is "decoupled":
       it never enters m or v (unlike L2 regularisation, which adds it to the gradient);
    3. m and v move toward grad and grad**2;
    4. bias correction: m and v started at zero, so early on they are too small by the
       factors (1 - beta1**t) and (1 - beta2**t); divide those out;
    5. p moves by lr * (corrected m) / (sqrt(corrected v) + eps): eps is added *after*
       the square root here, unlike in AdaGrad above.

    Read the PyTorch docs' pseudocode for torch.optim.AdamW to settle any doubt: the tests
    compare your trajectory with PyTorch's over 100 steps (float32 tolerances).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        raise NotImplementedError("Problem 6 (optimizers.AdamW.__init__): check the hyperparameters, then call super().__init__")

    def step(self, closure=None):
        raise NotImplementedError("Problem 6 (optimizers.AdamW.step): decay, update m and v, bias-correct, step")
