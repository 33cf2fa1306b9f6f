"""Problem 6: the optimizer step (reference)."""

import math

import torch
from torch.optim import Optimizer


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0.0:  # `not >=` also rejects NaN
            raise ValueError(f"invalid {name}: {value} (must be >= 0)")


def _closure_loss(closure):
    # step() runs under no_grad; a closure recomputes the loss, so it needs grad back.
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class SGD(Optimizer):
    """p -= lr * grad."""

    def __init__(self, params, lr: float = 1e-2):
        _check_non_negative(lr=lr)
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad, alpha=-group["lr"])
        return loss


class AdaGrad(Optimizer):
    """g2 += grad**2; p -= lr * grad / sqrt(g2 + eps)."""

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-5):
        _check_non_negative(lr=lr, eps=eps)
        super().__init__(params, dict(lr=lr, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "g2" not in state:
                    # zeros_like: same device and dtype as the parameter.
                    state["g2"] = torch.zeros_like(p)
                g2 = state["g2"]
                g2.add_(p.grad * p.grad)
                p.sub_(group["lr"] * p.grad / torch.sqrt(g2 + group["eps"]))
        return loss


class AdamW(Optimizer):
    """Adam with decoupled weight decay, step for step as torch.optim.AdamW."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        _check_non_negative(lr=lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"invalid beta{i + 1}: {beta} (must be in [0, 1))")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                # Each parameter counts its own steps: one skipped (grad None) lags behind.
                state["step"] += 1
                t = state["step"]
                m, v, grad = state["m"], state["v"], p.grad
                # Decoupled: decay shrinks the weights directly, never enters m or v.
                p.mul_(1 - lr * decay)
                m.lerp_(grad, 1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                # Bias correction undoes the zero start of m and v, as torch arranges it.
                step_size = lr / (1 - beta1**t)
                denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps
                p.addcdiv_(m, denom, value=-step_size)
        return loss
