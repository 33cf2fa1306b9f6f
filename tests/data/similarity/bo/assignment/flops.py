"""Problem 4, bo's version: everything in terms of one matmul count."""

import statistics
import time

import torch


def matmul_flops(m: int, k: int, n: int) -> int:
    return 2 * k * m * n


def linear_forward_flops(num_tokens: int, d_in: int, d_out: int) -> int:
    return matmul_flops(num_tokens, d_in, d_out)


def linear_backward_flops(num_tokens: int, d_in: int, d_out: int, input_requires_grad: bool = True) -> int:
    factor = 2 if input_requires_grad else 1
    return factor * linear_forward_flops(num_tokens, d_in, d_out)


def training_flops(num_params: float, num_tokens: float) -> float:
    return 6 * num_tokens * num_params


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu) -> float:
    hours = training_flops(num_params, num_tokens) / (num_gpus * mfu * peak_flops_per_sec) / 3600
    return hours / 24


def max_trainable_params(memory_bytes_per_gpu: float, num_gpus: int, bytes_per_param: int = 16) -> float:
    return num_gpus * (memory_bytes_per_gpu / bytes_per_param)


def model_flops_utilization(flops: float, seconds: float, peak_flops_per_sec: float) -> float:
    return flops / (seconds * peak_flops_per_sec)


def _run(a, b, on_cuda):
    out = a @ b
    if on_cuda:
        torch.cuda.synchronize()
    return out


def time_matmul(m, k, n, dtype, device, repeats=5) -> float:
    on_cuda = torch.device(device).type == "cuda"
    a = torch.rand(m, k, device=device, dtype=dtype)
    b = torch.rand(k, n, device=device, dtype=dtype)
    _run(a, b, on_cuda)
    times = [0.0] * repeats
    for i in range(repeats):
        t = time.perf_counter()
        _run(a, b, on_cuda)
        times[i] = time.perf_counter() - t
    return statistics.median(times)


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec) -> float:
    flops = matmul_flops(m, k, n)
    return flops / time_matmul(m, k, n, dtype, device) / peak_flops_per_sec
