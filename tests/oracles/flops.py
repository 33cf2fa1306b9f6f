"""Trusted side, problem 4: what PyTorch's FlopCounterMode counts (never loaded in the worker)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def flops_of_one_product(m: int, k: int, n: int) -> int:
    """FLOPs FlopCounterMode counts for one (m, k) @ (k, n) product (meta tensors: nothing allocated).

    tests/drivers/flops_calls.py's clock is given it, to turn the FLOPs it counted into products."""
    with FlopCounterMode(display=False) as counter:
        torch.empty(m, k, device="meta") @ torch.empty(k, n, device="meta")
    return counter.get_total_flops()
