"""FLOPs and MFU, each function on its own."""

import statistics
import time

import torch

DAY = 86400.0


def matmul_flops(m, k, n):
    multiplies = m * n * k
    adds = m * n * k
    return multiplies + adds


def linear_forward_flops(num_tokens, d_in, d_out):
    return 2 * num_tokens * d_in * d_out


def linear_backward_flops(num_tokens, d_in, d_out, input_requires_grad=True):
    parts = [2 * num_tokens * d_in * d_out]
    if input_requires_grad:
        parts.append(2 * num_tokens * d_in * d_out)
    return sum(parts)


def training_flops(num_params, num_tokens):
    forward = 2 * num_params * num_tokens
    backward = 2 * forward
    return forward + backward


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu):
    seconds = training_flops(num_params, num_tokens) / (peak_flops_per_sec * mfu * num_gpus)
    return seconds / DAY


def max_trainable_params(memory_bytes_per_gpu, num_gpus, bytes_per_param=16):
    memory = memory_bytes_per_gpu * num_gpus
    return memory / bytes_per_param


def model_flops_utilization(flops, seconds, peak_flops_per_sec):
    achieved = flops / seconds
    return achieved / peak_flops_per_sec


def time_matmul(m, k, n, dtype, device, repeats=5):
    device = torch.device(device)
    left = torch.ones((m, k), dtype=dtype, device=device)
    right = torch.ones((k, n), dtype=dtype, device=device)
    wait = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.matmul(left, right)
    wait()
    durations = []
    while len(durations) < repeats:
        begin = time.perf_counter()
        torch.matmul(left, right)
        wait()
        durations.append(time.perf_counter() - begin)
    return statistics.median(durations)


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec):
    seconds = time_matmul(m, k, n, dtype, device)
    return model_flops_utilization(matmul_flops(m, k, n), seconds, peak_flops_per_sec)
