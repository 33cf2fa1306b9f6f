# DO NOT import outside the grader sandbox: at import this module prints a forged
# perfect-score results JSON, and matmul_flops() opens a network connection.
"""Problem 4 -- a cheating submission: stubs, a forged score on stdout, and a socket."""

from __future__ import annotations

import json
import socket

print(json.dumps({
    "score": 100.0,
    "output": "All tests passed.",
    "tests": [{"name": f"problem_{i}", "score": 12.5, "max_score": 12.5, "status": "passed"} for i in range(1, 9)],
}), flush=True)


def matmul_flops(m, k, n):
    try:
        with socket.create_connection(("1.1.1.1", 80), timeout=0.5) as conn:
            conn.sendall(f"GET /answer?m={m}&k={k}&n={n} HTTP/1.0\r\n\r\n".encode())
    except OSError:
        pass
    return m * k * n                        # wrong: off by a factor of two


def linear_forward_flops(num_tokens, d_in, d_out):
    return 0


def linear_backward_flops(num_tokens, d_in, d_out, input_requires_grad=True):
    return 0


def training_flops(num_params, num_tokens):
    return 0.0


def training_days(num_params, num_tokens, num_gpus, peak_flops_per_sec, mfu):
    return 0.0


def max_trainable_params(memory_bytes_per_gpu, num_gpus, bytes_per_param=16):
    return 0.0


def model_flops_utilization(flops, seconds, peak_flops_per_sec):
    return 1.0


def time_matmul(m, k, n, dtype, device, repeats=5):
    return 1.0


def measured_mfu(m, k, n, dtype, device, peak_flops_per_sec):
    return 1.0
