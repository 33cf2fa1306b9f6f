"""Problem 6: optimizers on top of torch.optim.Optimizer."""

from __future__ import annotations

import math

import torch


def _non_negative(name: str, value: float) -> None:
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"invalid {name}: {value}")


class SGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-2):
        _non_negative("learning rate", lr)
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad, alpha=-group["lr"])
        return loss


class AdaGrad(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-5):
        _non_negative("learning rate", lr)
        _non_negative("eps", eps)
        super().__init__(params, dict(lr=lr, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "g2" not in st:
                    st["g2"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                g2 = st["g2"]
                g2.addcmul_(p.grad, p.grad)
                p.addcdiv_(p.grad, (g2 + group["eps"]).sqrt_(), value=-group["lr"])
        return loss


class AdamW(torch.optim.Optimizer):
    """Decoupled weight decay Adam, using the Kingma & Ba "efficient" form:
    the bias corrections are folded into one step size and into eps."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        _non_negative("learning rate", lr)
        _non_negative("eps", eps)
        _non_negative("weight decay", weight_decay)
        b1, b2 = betas
        for b in (b1, b2):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"invalid beta: {b}")
        super().__init__(params, dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            b1, b2 = group["betas"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                st = self.state[p]
                if not st:
                    st["t"] = 0
                    st["first_moment"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["second_moment"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["t"] += 1
                t = st["t"]
                m1, m2 = st["first_moment"], st["second_moment"]
                m1.mul_(b1).add_(g, alpha=1.0 - b1)
                m2.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                root_c2 = math.sqrt(1.0 - b2**t)
                alpha_t = lr * root_c2 / (1.0 - b1**t)
                p.mul_(1.0 - lr * wd)
                p.addcdiv_(m1, m2.sqrt().add_(eps * root_c2), value=-alpha_t)
        return loss
