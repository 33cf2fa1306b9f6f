"""Problem 4: FLOP counting, training cost and model FLOPs utilisation (MFU)."""

import statistics
import time
from typing import Sequence

import torch

SECONDS_PER_DAY = 24 * 60 * 60


def matmul_flops(m: int, k: int, n: int) -> int:
    """(m x k) @ (k x n): each of the m*n outputs takes k multiplies and k adds."""
    return 2 * m * k * n


def linear_forward_flops(num_tokens: int, d_in: int, d_out: int) -> int:
    """One (tokens x d_in) @ (d_in x d_out) product."""
    return matmul_flops(num_tokens, d_in, d_out)


def linear_backward_flops(num_tokens: int, d_in: int, d_out: int, input_requires_grad: bool = True) -> int:
    """grad_weight = x^T @ grad_out always; grad_x = grad_out @ weight^T only when x needs it."""
    weight_grad = matmul_flops(d_in, num_tokens, d_out)
    input_grad = matmul_flops(num_tokens, d_out, d_in) if input_requires_grad else 0
    return weight_grad + input_grad


def training_flops(num_params: float, num_tokens: float) -> float:
    """Forward 2 FLOPs per parameter per token, backward 4: 6ND."""
    return 6 * num_params * num_tokens


def linear_stack_training_flops(num_tokens: int, widths: Sequence[int]) -> int:
    """Forward plus backward of each layer; the first layer's input (the data) needs no gradient."""
    layers = list(zip(widths[:-1], widths[1:]))
    return sum(
        linear_forward_flops(num_tokens, d_in, d_out)
        + linear_backward_flops(num_tokens, d_in, d_out, input_requires_grad=index > 0)
        for index, (d_in, d_out) in enumerate(layers)
    )


def training_days(
    num_params: float, num_tokens: float, num_gpus: int, peak_flops_per_sec: float, mfu: float
) -> float:
    """Days of wall time when every GPU sustains `mfu` of its peak."""
    flops_per_sec = num_gpus * peak_flops_per_sec * mfu
    return training_flops(num_params, num_tokens) / flops_per_sec / SECONDS_PER_DAY


def max_trainable_params(memory_bytes_per_gpu: float, num_gpus: int, bytes_per_param: int = 16) -> float:
    """Parameters whose training state (weights, grads, optimizer state) fits in all GPUs' memory."""
    return memory_bytes_per_gpu * num_gpus / bytes_per_param


def model_flops_utilization(flops: float, seconds: float, peak_flops_per_sec: float) -> float:
    """Achieved FLOP/s as a fraction of the device's peak."""
    return flops / seconds / peak_flops_per_sec


def _synchronize(device: torch.device) -> None:
    # CUDA kernels run asynchronously: without waiting, the clock only sees the launch.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_matmul(m: int, k: int, n: int, dtype: torch.dtype, device: str | torch.device, repeats: int = 5) -> float:
    """Median wall seconds of one (m x k) @ (k x n) product on `device`."""
    device = torch.device(device)
    a = torch.randn(m, k, dtype=dtype, device=device)
    b = torch.randn(k, n, dtype=dtype, device=device)
    a @ b  # warm-up: the first call pays for library initialisation and kernel selection
    _synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measured_mfu(m: int, k: int, n: int, dtype: torch.dtype, device: str | torch.device, peak_flops_per_sec: float) -> float:
    """MFU of one timed matmul."""
    seconds = time_matmul(m, k, n, dtype, device)
    return model_flops_utilization(matmul_flops(m, k, n), seconds, peak_flops_per_sec)
