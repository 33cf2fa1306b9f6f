"""Problem 4: FLOP counting, training cost and model FLOPs utilisation (MFU).

A FLOP here is one floating-point add or multiply. Matrix products dominate the cost of
training a transformer, so counting them is enough to estimate how long a run takes and
how well it uses the hardware.
"""

import statistics  # noqa: F401  (you will need these)
import time  # noqa: F401
from typing import Sequence

import torch


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an (m x k) @ (k x n) product.

    Count what it takes to form every output entry: each one is a dot product; count its
    multiplies and its adds (a FLOP is one of either). Check your count against
    torch.utils.flop_counter.FlopCounterMode on "meta" tensors (handout, Problem 4).
    Return a Python int.
    """
    raise NotImplementedError("Problem 4 (flops.matmul_flops): count multiplies and adds")


def linear_forward_flops(num_tokens: int, d_in: int, d_out: int) -> int:
    """FLOPs of a bias-free linear layer applied to `num_tokens` tokens.

    Leading dims flatten into tokens: a (batch, seq, d_in) input has batch*seq tokens.
    The layer is one matrix product: which one, of what shapes?
    """
    raise NotImplementedError("Problem 4 (flops.linear_forward_flops): which matmul is it?")


def linear_backward_flops(num_tokens: int, d_in: int, d_out: int, input_requires_grad: bool = True) -> int:
    """FLOPs of the backward pass of that linear layer.

    The backward pass computes the weight's gradient (always) and the input's gradient
    (only when the input requires grad: the first layer's input, the data, does not).
    Each is one matrix product of the output's gradient with a tensor the forward saw:
    write both down with their shapes (the chain rule for y = x @ W) and count them.
    This is what torch.utils.flop_counter.FlopCounterMode counts for nn.Linear(bias=False).
    """
    raise NotImplementedError("Problem 4 (flops.linear_backward_flops): weight grad, plus input grad when asked")


def training_flops(num_params: float, num_tokens: float) -> float:
    """Total FLOPs to train a model with `num_params` parameters on `num_tokens` tokens.

    The lecture's rule of thumb, from your two linear-layer functions: in a model made of
    matmuls every parameter is one weight of some layer, which every token meets once in
    the forward pass and again in each of the two backward products (count the input
    gradient for every layer, as the rule does). Derive the FLOPs each parameter costs for
    each token; the result need not be an int.
    """
    raise NotImplementedError("Problem 4 (flops.training_flops): what does one parameter cost for one token?")


def linear_stack_training_flops(num_tokens: int, widths: Sequence[int]) -> int:
    """FLOPs of one training step (forward and backward) of a stack of bias-free linear layers.

    Layer i maps widths[i] features to widths[i + 1] (so len(widths) - 1 layers, none when
    fewer than two widths), applied to `num_tokens` tokens of data. The data needs no
    gradient, so the first layer computes no input gradient; every later layer's input is
    the previous layer's output, which does. This is where the rule of thumb above is a
    little off: use your per-layer functions. The tests compare with FlopCounterMode on a
    real nn.Sequential of nn.Linear(bias=False) layers.
    """
    raise NotImplementedError("Problem 4 (flops.linear_stack_training_flops): forward and backward of each layer")


def training_days(
    num_params: float, num_tokens: float, num_gpus: int, peak_flops_per_sec: float, mfu: float
) -> float:
    """Wall-clock days (of 86400 seconds) to train, when every GPU sustains `mfu` (a
    fraction) of its peak `peak_flops_per_sec` (FLOP/s), for the FLOPs your training_flops
    counts. Return the exact quotient, not a rounded number of days.
    """
    raise NotImplementedError("Problem 4 (flops.training_days): how many FLOP/s does the cluster really deliver?")


def max_trainable_params(memory_bytes_per_gpu: float, num_gpus: int, bytes_per_param: int = 16) -> float:
    """The largest model whose training state fits in the GPUs' memory (activations ignored).

    `num_gpus` GPUs of `memory_bytes_per_gpu` bytes each; `bytes_per_param` counts everything
    kept per parameter (the default is what accounting.bytes_per_parameter gives for
    mixed-precision AdamW: weights, gradients, a float32 master copy and two moments).
    """
    raise NotImplementedError("Problem 4 (flops.max_trainable_params): how many parameters fit?")


def model_flops_utilization(flops: float, seconds: float, peak_flops_per_sec: float) -> float:
    """MFU: the FLOP/s achieved by doing `flops` in `seconds`, as a fraction of the peak.

    Example: 1e12 FLOPs in 2 seconds on a 1e12 FLOP/s device: 0.5.
    """
    raise NotImplementedError("Problem 4 (flops.model_flops_utilization): achieved rate over peak rate")


def time_matmul(m: int, k: int, n: int, dtype: torch.dtype, device: str | torch.device, repeats: int = 5) -> float:
    """Median wall seconds of one (m x k) @ (k x n) product of random `dtype` tensors on `device`.

    - Make both inputs first (creating them is not part of the product).
    - Run the product once before timing (warm-up): the first call pays one-off costs.
    - Time `repeats` runs one by one with `time.perf_counter()` and return
      `statistics.median` of them (a median shrugs off an outlier).
    - GPUs run asynchronously: `a @ b` returns as soon as the kernel is queued. On CUDA,
      call `torch.cuda.synchronize()` before reading the clock, or you time the launch only.
    The tests count what really runs: PyTorch's FlopCounterMode must see at least your
    `repeats` timed products (with the warm-up, `repeats + 1` run), and your code must read
    a clock; an estimate (or a sleep) earns nothing.
    """
    raise NotImplementedError("Problem 4 (flops.time_matmul): warm up, time `repeats` runs, synchronise on CUDA")


def measured_mfu(
    m: int, k: int, n: int, dtype: torch.dtype, device: str | torch.device, peak_flops_per_sec: float
) -> float:
    """MFU of one (m x k) @ (k x n) product, timed with `time_matmul` (default repeats).

    The MFU must come from a real measurement (the tests check that a product ran and a
    clock was read, or that your time_matmul was used): a constant earns nothing.
    """
    raise NotImplementedError("Problem 4 (flops.measured_mfu): combine your other functions")
