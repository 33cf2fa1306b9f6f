"""Problem 4: FLOP counting and model FLOP utilisation."""

from __future__ import annotations

import statistics
import time

import torch

_SECONDS_PER_DAY = 24 * 60 * 60


def matmul_flops(m: int, k: int, n: int) -> int:
    # m*n outputs, each k multiplies and k adds.
    return 2 * m * k * n


def linear_forward_flops(num_tokens: int, d_in: int, d_out: int) -> int:
    return matmul_flops(num_tokens, d_in, d_out)


def linear_backward_flops(num_tokens: int, d_in: int, d_out: int, input_requires_grad: bool = True) -> int:
    # dW = x^T @ dy : (d_in x tokens) @ (tokens x d_out)
    total = matmul_flops(d_in, num_tokens, d_out)
    if input_requires_grad:
        # dx = dy @ W^T : (tokens x d_out) @ (d_out x d_in)
        total += matmul_flops(num_tokens, d_out, d_in)
    return total


def linear_stack_training_flops(num_tokens: int, widths) -> int:
    total = 0
    needs_input_grad = False  # the data
    for d_in, d_out in zip(list(widths), list(widths)[1:]):
        total += 2 * num_tokens * d_in * d_out  # forward
        total += linear_backward_flops(num_tokens, d_in, d_out, input_requires_grad=needs_input_grad)
        needs_input_grad = True  # every later input is an activation
    return total


def training_flops(num_params: float, num_tokens: float) -> float:
    return 6.0 * num_params * num_tokens


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
