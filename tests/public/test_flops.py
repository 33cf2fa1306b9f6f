"""Problem 4 (public): FLOP formulas against PyTorch's own FLOP counter, and the worked numbers.

torch.utils.flop_counter.FlopCounterMode counts the FLOPs of every matrix product PyTorch
runs; tensors on the "meta" device have shapes but no data, so nothing is computed.
"""

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.drivers import flops as drivers

pytestmark = pytest.mark.flops


def counted(fn) -> int:
    """FLOPs PyTorch counts while running fn()."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_matmul_flops_matches_flop_counter(impl):
    """matmul_flops(m, k, n) is the number of FLOPs PyTorch's FlopCounterMode counts for an (m x k) @ (k x n) product."""
    for m, k, n in [(2, 3, 4), (128, 64, 32), (1, 1000, 1)]:
        a, b = torch.empty(m, k, device="meta"), torch.empty(k, n, device="meta")
        expected = counted(lambda: a @ b)
        got = impl.flops.matmul_flops(m, k, n)
        assert got == expected, (
            f"matmul_flops({m}, {k}, {n}) = {got}, FlopCounterMode counts {expected}. "
            "Hint: every output entry is a dot product of length k; count its multiplies and its adds."
        )


def test_linear_forward_flops_matches_flop_counter(impl):
    """linear_forward_flops counts the forward of nn.Linear(bias=False) on a batch: all leading dims together are the tokens."""
    batch, seq, d_in, d_out = 4, 6, 16, 8
    layer = torch.nn.Linear(d_in, d_out, bias=False, device="meta")
    x = torch.empty(batch, seq, d_in, device="meta")
    expected = counted(lambda: layer(x))
    got = impl.flops.linear_forward_flops(batch * seq, d_in, d_out)
    assert got == expected, (
        f"linear_forward_flops({batch * seq}, {d_in}, {d_out}) = {got}, FlopCounterMode counts {expected} "
        f"for nn.Linear({d_in}, {d_out}, bias=False) on a ({batch}, {seq}, {d_in}) input. "
        "Hint: the layer is one matrix product: which one, with which shapes?"
    )


@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_linear_backward_flops_matches_flop_counter(impl, input_requires_grad):
    """The backward pass computes the weight's gradient, plus the input's gradient only when the input requires grad."""
    tokens, d_in, d_out = 10, 12, 5
    layer = torch.nn.Linear(d_in, d_out, bias=False, device="meta")
    x = torch.empty(tokens, d_in, device="meta", requires_grad=input_requires_grad)
    y = layer(x)
    expected = counted(lambda: y.backward(torch.ones_like(y)))
    got = impl.flops.linear_backward_flops(tokens, d_in, d_out, input_requires_grad=input_requires_grad)
    assert got == expected, (
        f"linear_backward_flops({tokens}, {d_in}, {d_out}, input_requires_grad={input_requires_grad}) = {got}, "
        f"FlopCounterMode counts {expected} in nn.Linear's backward. Hint: write the chain rule for y = x @ W "
        "with every shape: each gradient is one matrix product of the output's gradient with a tensor the forward saw."
    )


@pytest.mark.parametrize("num_tokens, widths", [(10, [4, 3]), (8, [16, 32, 16, 1]), (5, [7, 7, 7])])
def test_linear_stack_training_flops_matches_flop_counter(impl, expected_values, num_tokens, widths):
    """A training step of a layer stack: forward and backward of each layer, with no input gradient for the data."""
    # FlopCounterMode's count for one forward and backward of nn.Linear(bias=False) layers on data
    expected = expected_values["flops.linear_stack_training_flops"][f"{num_tokens} {widths}"]
    got = impl.flops.linear_stack_training_flops(num_tokens, widths)
    params = sum(a * b for a, b in zip(widths, widths[1:]))
    assert got == expected, (
        f"linear_stack_training_flops({num_tokens}, {widths}) = {got}, FlopCounterMode counts {expected} "
        f"for one forward and backward ({params} parameters: the whole-run rule of thumb would count more). "
        "Hint: the first layer's input is the data, which needs no gradient."
    )


def test_training_days_worked_example(impl):
    """training_flops(70e9, 15e12) and training_days(70e9, 15e12, 1024, 989.5e12, 0.5), unrounded."""
    flops = impl.flops.training_flops(70e9, 15e12)
    assert math.isclose(flops, 6.3e24, rel_tol=1e-9), (
        f"training_flops(70e9, 15e12) = {flops}, expected 6.3e24. Hint: what does one parameter cost for one "
        "token, in the forward product and in each backward product (your linear-layer counts, per weight)?"
    )
    days = impl.flops.training_days(70e9, 15e12, 1024, 989.5e12, 0.5)
    expected = 143.92659381842682  # days, unrounded
    assert math.isclose(days, expected, rel_tol=1e-9), (
        f"training_days(70e9, 15e12, 1024, 989.5e12, 0.5) = {days}, expected about {expected:.2f} days. "
        "Hint: how many FLOP/s do all the GPUs together really deliver at this MFU? That gives seconds; "
        "a day has 86400 of them."
    )


def test_max_trainable_params_worked_example(impl):
    """max_trainable_params(80e9, 8), with the default 16 bytes per parameter and with 4."""
    got = impl.flops.max_trainable_params(80e9, 8)
    assert math.isclose(got, 4e10, rel_tol=1e-9), (
        f"max_trainable_params(80e9, 8) = {got}, expected 4e10. Hint: how many bytes do the GPUs hold together, "
        "and how many does each parameter need?"
    )
    got = impl.flops.max_trainable_params(80e9, 8, bytes_per_param=4)
    assert math.isclose(got, 1.6e11, rel_tol=1e-9), (
        f"max_trainable_params(80e9, 8, bytes_per_param=4) = {got}, expected 1.6e11."
    )


def test_model_flops_utilization_worked_example(impl):
    """1e12 FLOPs in 2 seconds on a 1e12 FLOP/s device is an MFU of 0.5."""
    got = impl.flops.model_flops_utilization(1e12, 2.0, 1e12)
    assert math.isclose(got, 0.5, rel_tol=1e-12), (
        f"model_flops_utilization(1e12, 2.0, 1e12) = {got}, expected 0.5. Hint: achieved FLOP/s over peak FLOP/s."
    )


def test_time_matmul_returns_a_median_in_seconds(impl):
    """time_matmul runs and times the products and returns the median seconds of ONE product (a float); a much bigger product takes longer."""
    for attempt in range(3):  # "bigger takes longer" gets three tries: a busy machine can spoil one
        small, big = impl.run(drivers.time_matmul_calls, device="cpu", dtype="float32",
                              shapes=[[8, 8, 8], [384, 384, 384]], repeats=5)
        for call in (small, big):
            seconds, wall = call["seconds"], call["wall"]
            assert isinstance(seconds, float) and seconds > 0, (
                f"time_matmul{tuple(call['shape'])} returned {seconds!r}, expected a positive float (seconds)."
            )
            assert seconds <= wall / 3 * 1.05 + 1e-6, (
                f"time_matmul{tuple(call['shape'])} with repeats=5 returned {seconds:.3g} s but the whole call took "
                f"{wall:.3g} s: a median of 5 timed runs can be at most a third of that. "
                "Hint: return statistics.median of the per-run times, in seconds (not a total, not milliseconds)."
            )
        if big["seconds"] > small["seconds"]:
            break
    assert big["seconds"] > small["seconds"], (
        f"time_matmul: 384^3 took {big['seconds']:.3g} s, 8^3 took {small['seconds']:.3g} s (three tries); the bigger "
        "product should take longer. Hint: time the product itself, on inputs of the given sizes."
    )
    m, k, n, repeats = 48, 40, 32, 5
    out = impl.run(drivers.time_matmul_instrumented, m=m, k=k, n=n, dtype="float32", device="cpu", repeats=repeats)
    assert out["flops"] >= repeats * 122_880, (  # FlopCounterMode's count for one (48 x 40) @ (40 x 32) product
        f"time_matmul({m}, {k}, {n}, repeats={repeats}) ran products worth {out['flops']} FLOPs (PyTorch's "
        f"FlopCounterMode counted them), fewer than {repeats} products of ({m} x {k}) @ ({k} x {n}). "
        "Hint: really multiply (m x k) by (k x n) tensors, once per timed run (plus a warm-up)."
    )
    assert out["clock_reads"] >= 2, (
        f"time_matmul({m}, {k}, {n}) read a clock {out['clock_reads']} time(s). "
        "Hint: time each run with time.perf_counter() before and after the product."
    )
