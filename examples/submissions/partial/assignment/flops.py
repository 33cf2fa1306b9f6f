import statistics
import time

import torch


def matmul_flops(m, k, n):
    return 2 * m * k * n


def linear_forward_flops(num_tokens, d_in, d_out):
    return 2 * num_tokens * d_in * d_out


def linear_backward_flops(num_tokens, d_in, d_out, input_requires_grad=True):
    flops = 2 * num_tokens * d_in * d_out  # grad of the weight
    if input_requires_grad:
        flops = flops + 2 * num_tokens * d_in * d_out  # grad of the input
    return flops


def linear_stack_training_flops(num_tokens, widths):
    total = 0
    for i in range(len(widths) - 1):
        total += linear_forward_flops(num_tokens, widths[i], widths[i + 1])
        # the first layer gets the data as input: no gradient needed for it
        total += linear_backward_flops(num_tokens, widths[i], widths[i + 1], input_requires_grad=(i != 0))
    return total


def training_flops(num_params, num_tokens):
    return 6 * num_params * num_tokens


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu):
    seconds = training_flops(num_params, num_tokens) / (num_gpus * peak_flops_per_sec * mfu)
    return seconds / 86400


def max_trainable_params(memory_bytes_per_gpu, num_gpus, bytes_per_param=16):
    return memory_bytes_per_gpu * num_gpus / bytes_per_param


def model_flops_utilization(flops, seconds, peak_flops_per_sec):
    return (flops / seconds) / peak_flops_per_sec


def time_matmul(m, k, n, dtype, device, repeats=5):
    a = torch.randn(m, k, dtype=dtype, device=device)
    b = torch.randn(k, n, dtype=dtype, device=device)
    is_cuda = torch.device(device).type == "cuda"
    # warm up
    c = a @ b
    if is_cuda:
        torch.cuda.synchronize()
    times = []
    for i in range(repeats):
        start = time.time()
        c = a @ b
        if is_cuda:
            torch.cuda.synchronize()
        times.append(time.time() - start)
    return statistics.median(times)


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec):
    t = time_matmul(m, k, n, dtype, device)
    return model_flops_utilization(matmul_flops(m, k, n), t, peak_flops_per_sec)
