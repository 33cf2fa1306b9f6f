"""cy: FLOPs with a tiny timer context manager."""

import contextlib
import statistics
import time

import torch


def matmul_flops(m, k, n):
    return m * n * (2 * k)


def linear_forward_flops(num_tokens, d_in, d_out):
    return num_tokens * d_out * (2 * d_in)


def linear_backward_flops(num_tokens, d_in, d_out, input_requires_grad=True):
    weight = d_in * d_out * (2 * num_tokens)
    return weight + (num_tokens * d_in * (2 * d_out) if input_requires_grad else 0)


def training_flops(num_params, num_tokens):
    return 3 * (2 * num_params * num_tokens)


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu):
    rate = mfu * peak_flops_per_sec
    rate *= num_gpus
    return training_flops(num_params, num_tokens) / rate / (60 * 60 * 24)


def max_trainable_params(memory_bytes_per_gpu, num_gpus, bytes_per_param=16):
    return (num_gpus * memory_bytes_per_gpu) // 1 / bytes_per_param


def model_flops_utilization(flops, seconds, peak_flops_per_sec):
    return (flops / peak_flops_per_sec) / seconds


@contextlib.contextmanager
def _clock(device, into):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    yield
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    into.append(time.perf_counter() - start)


def time_matmul(m, k, n, dtype, device, repeats=5):
    x = torch.randn(m, k).to(device=device, dtype=dtype)
    w = torch.randn(k, n).to(device=device, dtype=dtype)
    warm = []
    with _clock(device, warm):
        x.matmul(w)
    seen = []
    for _ in range(repeats):
        with _clock(device, seen):
            x.matmul(w)
    return statistics.median(seen)


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec):
    return model_flops_utilization(matmul_flops(m, k, n), time_matmul(m, k, n, dtype, device), peak_flops_per_sec)
