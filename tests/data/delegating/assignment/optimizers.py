"""Problem 6, handed to PyTorch: SGD and AdamW are torch.optim's own; AdaGrad (which torch.optim does differently) is kept (test data: delegating)."""

from __future__ import annotations


import torch


def _non_negative(name: str, value: float) -> None:
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"invalid {name}: {value}")


class SGD(torch.optim.SGD):
    def __init__(self, params, lr: float = 1e-2):
        _non_negative("learning rate", lr)
        super().__init__(params, lr=lr)


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


class AdamW(torch.optim.AdamW):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        _non_negative("learning rate", lr)
        _non_negative("eps", eps)
        _non_negative("weight decay", weight_decay)
        for b in betas:
            if not 0.0 <= b < 1.0:
                raise ValueError(f"invalid beta: {b}")
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
