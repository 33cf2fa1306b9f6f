"""Problem 4, handed to PyTorch: FlopCounterMode on meta tensors counts every product (test data: delegating)."""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

_SECONDS_PER_DAY = 24 * 60 * 60


def _counted(run) -> int:
    with FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())


def _meta(*shape, grad=False) -> torch.Tensor:
    return torch.empty(*shape, device="meta", requires_grad=grad)


def matmul_flops(m: int, k: int, n: int) -> int:
    return _counted(lambda: _meta(m, k) @ _meta(k, n))


def linear_forward_flops(num_tokens: int, d_in: int, d_out: int) -> int:
    return _counted(lambda: _meta(num_tokens, d_in) @ _meta(d_in, d_out))


def linear_backward_flops(num_tokens: int, d_in: int, d_out: int, input_requires_grad: bool = True) -> int:
    x, w = _meta(num_tokens, d_in, grad=input_requires_grad), _meta(d_in, d_out, grad=True)
    y = x @ w
    return _counted(lambda: y.backward(torch.empty_like(y)))


def linear_stack_training_flops(num_tokens: int, widths) -> int:
    widths = list(widths)
    model = torch.nn.Sequential(*(torch.nn.Linear(a, b, bias=False, device="meta") for a, b in zip(widths, widths[1:])))

    def step():
        model(_meta(num_tokens, widths[0])).sum().backward()

    return _counted(step) if len(widths) > 1 else 0


def training_flops(num_params: float, num_tokens: float) -> float:
    per_param_per_token = linear_forward_flops(1, 1, 1) + linear_backward_flops(1, 1, 1)
    return float(per_param_per_token) * num_params * num_tokens


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu) -> float:
    achieved_per_sec = num_gpus * peak_flops_per_sec * mfu
    return training_flops(num_params, num_tokens) / achieved_per_sec / _SECONDS_PER_DAY


def max_trainable_params(memory_bytes_per_gpu: float, num_gpus: int, bytes_per_param: int = 16) -> float:
    return memory_bytes_per_gpu * num_gpus / bytes_per_param


def model_flops_utilization(flops: float, seconds: float, peak_flops_per_sec: float) -> float:
    return flops / seconds / peak_flops_per_sec


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_matmul(m: int, k: int, n: int, dtype: torch.dtype, device, repeats: int = 5) -> float:
    device = torch.device(device)
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    for _ in range(2):  # warm-up: kernel selection, caches, lazy init
        a @ b
    _sync(device)
    samples = []
    for _ in range(max(1, int(repeats))):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec) -> float:
    seconds = time_matmul(m, k, n, dtype, device)
    return model_flops_utilization(matmul_flops(m, k, n), seconds, peak_flops_per_sec)
