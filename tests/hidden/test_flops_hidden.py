"""Problem 4 (hidden): FLOP formulas against FlopCounterMode and the reference; timing sanity.

FLOP counts are checked on the meta device (shapes only, nothing computed), so sizes can
be large. Timing is checked with bounds that hold for every correct implementation:
a median of `repeats` runs timed inside a call is at most wall / ceil(repeats / 2) of that
call, and on CUDA no product can beat a physical peak (a missing synchronize would); the
products must really run (FlopCounterMode counts them) and a clock be read. The drivers
time with one torch thread, so the verdict is the same in-process and in the grader.
"""

import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from tests.drivers import flops as drivers
from tests.strategies import flop_sizes, model_scales, shapes

pytestmark = pytest.mark.flops

FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors]
# No single device does 5e15 dense FLOP/s in float32 or bfloat16 (an H200 peaks near 1e15 in bf16).
PHYSICAL_PEAK = 5e15
# No CPU sustains 20 TFLOP/s on these small fp32 products (a 64-core AVX-512 server peaks near 10):
# an MFU that implies more was not measured.
CPU_PEAK = 2e13


def counted(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def torch_linear_flops(batch, d_in, d_out, input_requires_grad):
    """(forward, backward) FLOPs that PyTorch counts for nn.Linear(bias=False) on a (*batch, d_in) input."""
    with warnings.catch_warnings():  # a zero-size layer warns that its initialisation is a no-op
        warnings.simplefilter("ignore", UserWarning)
        layer = torch.nn.Linear(d_in, d_out, bias=False, device="meta")
    x = torch.empty(*batch, d_in, device="meta", requires_grad=input_requires_grad)
    out = []
    forward = counted(lambda: out.append(layer(x)))
    backward = counted(lambda: out[0].backward(torch.ones_like(out[0])))
    return forward, backward


@given(m=flop_sizes(), k=flop_sizes(), n=flop_sizes())
@example(m=0, k=5, n=7)
@example(m=3, k=0, n=7)
@example(m=1, k=1, n=1)
@example(m=4096, k=11, n=1)
def test_matmul_flops_matches_flop_counter_and_ref(impl, ref, m, k, n):
    """matmul_flops(m, k, n) must equal what FlopCounterMode counts for (m x k) @ (k x n), as a Python int."""
    a, b = torch.empty(m, k, device="meta"), torch.empty(k, n, device="meta")
    expected = counted(lambda: a @ b)
    got = impl.flops.matmul_flops(m, k, n)
    assert isinstance(got, int) and got == expected
    assert ref.flops.matmul_flops(m, k, n) == expected


@settings(max_examples=40)
@given(batch=shapes(min_dims=1, max_dims=2, max_side=64),
       d_in=flop_sizes(512), d_out=flop_sizes(512))
@example(batch=(7,), d_in=16, d_out=3)
@example(batch=(2, 5), d_in=1, d_out=9)
@example(batch=(0, 3), d_in=4, d_out=4)
@example(batch=(3,), d_in=0, d_out=4)
def test_linear_forward_flops_matches_flop_counter_and_ref(impl, ref, batch, d_in, d_out):
    """linear_forward_flops(tokens, d_in, d_out) must equal FlopCounterMode's count for nn.Linear's forward; tokens are all leading dims."""
    expected, _ = torch_linear_flops(batch, d_in, d_out, True)
    tokens = math.prod(batch)
    got = impl.flops.linear_forward_flops(tokens, d_in, d_out)
    assert isinstance(got, int) and got == expected
    assert ref.flops.linear_forward_flops(tokens, d_in, d_out) == expected


@settings(max_examples=40)
@given(batch=shapes(min_dims=1, max_dims=2, max_side=64),
       d_in=flop_sizes(512), d_out=flop_sizes(512), input_requires_grad=st.booleans())
@example(batch=(10,), d_in=12, d_out=5, input_requires_grad=True)
@example(batch=(10,), d_in=12, d_out=5, input_requires_grad=False)
@example(batch=(2, 3), d_in=7, d_out=1, input_requires_grad=False)
@example(batch=(1,), d_in=1, d_out=1, input_requires_grad=True)
@example(batch=(4,), d_in=3, d_out=0, input_requires_grad=True)
def test_linear_backward_flops_matches_flop_counter_and_ref(impl, ref, batch, d_in, d_out, input_requires_grad):
    """linear_backward_flops must equal FlopCounterMode's backward count: the weight gradient always, the input gradient only if the input requires grad."""
    _, expected = torch_linear_flops(batch, d_in, d_out, input_requires_grad)
    tokens = math.prod(batch)
    got = impl.flops.linear_backward_flops(tokens, d_in, d_out, input_requires_grad=input_requires_grad)
    assert isinstance(got, int) and got == expected
    assert ref.flops.linear_backward_flops(tokens, d_in, d_out, input_requires_grad) == expected
    if input_requires_grad:  # the default counts both gradients
        assert impl.flops.linear_backward_flops(tokens, d_in, d_out) == expected


def torch_stack_training_flops(batch, widths) -> int:
    """FlopCounterMode's count for one forward and backward of nn.Linear(bias=False) layers on data."""
    if len(widths) < 2:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        layers = torch.nn.Sequential(*(torch.nn.Linear(a, b, bias=False, device="meta") for a, b in zip(widths, widths[1:])))
    x = torch.empty(*batch, widths[0], device="meta")
    return counted(lambda: layers(x).sum().backward())


@settings(max_examples=40)
@given(batch=shapes(min_dims=1, max_dims=2, max_side=32), widths=st.lists(flop_sizes(256), min_size=0, max_size=6))
@example(batch=(10,), widths=[4, 3])
@example(batch=(2, 3), widths=[5, 8, 8, 1])
@example(batch=(4,), widths=[6])
@example(batch=(4,), widths=[])
@example(batch=(3,), widths=[2, 0, 4])
def test_linear_stack_training_flops_matches_flop_counter_and_ref(impl, ref, batch, widths):
    """linear_stack_training_flops must equal FlopCounterMode's count of one forward and backward of the stack; the data needs no input gradient."""
    expected = torch_stack_training_flops(batch, widths)
    tokens = math.prod(batch)
    assert ref.flops.linear_stack_training_flops(tokens, widths) == expected
    got = impl.flops.linear_stack_training_flops(tokens, widths)
    assert isinstance(got, int) and got == expected


@given(num_params=model_scales(), num_tokens=model_scales())
@example(num_params=70e9, num_tokens=15e12)
@example(num_params=1.0, num_tokens=1.0)
def test_training_flops_is_six_n_d(impl, ref, num_params, num_tokens):
    """training_flops(N, D) must count one forward and one backward pass of D tokens through N parameters (the written part asks you to derive it)."""
    expected = 6 * num_params * num_tokens
    assert math.isclose(impl.flops.training_flops(num_params, num_tokens), expected, rel_tol=1e-12)
    assert math.isclose(ref.flops.training_flops(num_params, num_tokens), expected, rel_tol=1e-12)


@given(num_params=model_scales(), num_tokens=model_scales(), num_gpus=st.integers(1, 100_000),
       peak=st.floats(1e12, 1e16), mfu=st.floats(0.01, 1.0))
@example(num_params=70e9, num_tokens=15e12, num_gpus=1024, peak=989.5e12, mfu=0.5)
@example(num_params=70e9, num_tokens=15e12, num_gpus=2048, peak=989.5e12, mfu=0.25)
@example(num_params=1e9, num_tokens=2e10, num_gpus=1, peak=1e15, mfu=1.0)
def test_training_days_matches_formula_and_ref(impl, ref, num_params, num_tokens, num_gpus, peak, mfu):
    """training_days must turn the training FLOPs into days at the rate the cluster achieves (its GPUs, their peak and the MFU)."""
    expected = 6 * num_params * num_tokens / (num_gpus * peak * mfu) / 86400
    got = impl.flops.training_days(num_params, num_tokens, num_gpus, peak, mfu)
    assert math.isclose(got, expected, rel_tol=1e-9)
    assert math.isclose(ref.flops.training_days(num_params, num_tokens, num_gpus, peak, mfu), expected, rel_tol=1e-9)
    if (num_params, num_tokens, num_gpus, peak, mfu) == (70e9, 15e12, 1024, 989.5e12, 0.5):
        assert 143 < got < 145  # the worked number: about 144 days


@given(memory=st.floats(1e9, 1e12), num_gpus=st.integers(1, 4096), bytes_per_param=st.sampled_from([2, 4, 8, 12, 16, 18]))
@example(memory=80e9, num_gpus=8, bytes_per_param=16)
@example(memory=80e9, num_gpus=1, bytes_per_param=2)
def test_max_trainable_params_matches_formula_and_ref(impl, ref, memory, num_gpus, bytes_per_param):
    """max_trainable_params must be how many parameters the GPUs' memory holds at the given bytes per parameter (the handout's default otherwise)."""
    expected = memory * num_gpus / bytes_per_param
    got = impl.flops.max_trainable_params(memory, num_gpus, bytes_per_param=bytes_per_param)
    assert math.isclose(got, expected, rel_tol=1e-9)
    assert math.isclose(ref.flops.max_trainable_params(memory, num_gpus, bytes_per_param), expected, rel_tol=1e-9)
    if bytes_per_param == 16:
        assert math.isclose(impl.flops.max_trainable_params(memory, num_gpus), expected, rel_tol=1e-9)
    if (memory, num_gpus, bytes_per_param) == (80e9, 8, 16):
        assert math.isclose(got, 4e10, rel_tol=1e-9)


@given(flops=st.floats(1.0, 1e25), seconds=st.floats(1e-6, 1e8), peak=st.floats(1e9, 1e16))
@example(flops=1e12, seconds=2.0, peak=1e12)
def test_model_flops_utilization_matches_formula_and_ref(impl, ref, flops, seconds, peak):
    """model_flops_utilization must be the FLOP rate the run achieved as a fraction of the peak rate."""
    expected = flops / seconds / peak
    assert math.isclose(impl.flops.model_flops_utilization(flops, seconds, peak), expected, rel_tol=1e-9)
    assert math.isclose(ref.flops.model_flops_utilization(flops, seconds, peak), expected, rel_tol=1e-9)


# Sizes per device, far apart (a factor of ~10^5 in FLOPs on the CPU), so a busy machine
# cannot make the small product look as slow as the big one. On CUDA the big product takes
# milliseconds when synchronised and microseconds when only launched, so a missing
# synchronize implies an impossible rate.
TIMING = {
    "cpu": {"dtype": "float32", "shapes": [[8, 8, 8], [384, 384, 384]]},
    "cuda": {"dtype": "bfloat16", "shapes": [[256, 256, 256], [8192, 8192, 8192]]},
}
# "Bigger takes longer" is statistics: on a loaded machine one try in many can lose it, so
# it must hold in one of ATTEMPTS tries. The bounds that hold for every run of correct code
# (a median, in seconds, no impossible rate) must hold in every try.
ATTEMPTS = 3


def assert_really_timed(out, m, k, n, runs):
    """The call ran at least `runs` (m x k) @ (k x n) products (PyTorch counted their FLOPs) and read a clock twice."""
    assert out["flops"] >= runs * 2 * m * k * n
    assert out["clock_reads"] >= 2


def test_time_matmul_is_a_plausible_median(impl, ref, device):
    """time_matmul must run and time the products (a clock read around them) and return the median seconds of one product over `repeats` runs (not a total, not ms), grow with size and, on CUDA, synchronise."""
    repeats = 9  # at least 5 of the 9 runs are no shorter than their median
    for backend in (impl, ref):
        for _ in range(ATTEMPTS):
            small, big = backend.run(drivers.time_matmul_calls, device=device, repeats=repeats, **TIMING[device])
            for call in (small, big):
                assert isinstance(call["seconds"], float) and call["seconds"] > 0
                assert call["seconds"] <= call["wall"] / 5 * 1.05 + 1e-6
            if device == "cuda":
                m, k, n = big["shape"]
                assert 2 * m * k * n / big["seconds"] < PHYSICAL_PEAK
            if big["seconds"] > small["seconds"]:
                break
        assert big["seconds"] > small["seconds"]
        out = backend.run(drivers.time_matmul_instrumented, m=48, k=40, n=32, dtype=TIMING[device]["dtype"],
                          device=device, repeats=repeats)
        assert isinstance(out["seconds"], float) and out["seconds"] > 0
        assert_really_timed(out, 48, 40, 32, runs=repeats)


@pytest.mark.parametrize("seconds", [0.25, 3.0])
def test_measured_mfu_uses_matmul_flops_and_time(impl, ref, seconds):
    """measured_mfu must be model_flops_utilization(matmul_flops(m, k, n), time_matmul(...), peak); one that times by itself must run and time a product."""
    m, k, n, peak = 64, 48, 32, 1e15
    expected = 2 * m * k * n / seconds / peak
    for backend in (impl, ref):
        out = backend.run(drivers.measured_mfu_with_fixed_time, m=m, k=k, n=n, dtype="float32",
                          device="cpu", peak_flops_per_sec=peak, seconds=seconds)
        assert isinstance(out["mfu"], float) and out["mfu"] > 0
        assert out["mfu"] * peak < CPU_PEAK  # timed some other way: still a real CPU's rate
        if out["used_time_matmul"]:
            assert math.isclose(out["mfu"], expected, rel_tol=1e-9)
        else:
            assert_really_timed(out, m, k, n, runs=1)


def test_measured_mfu_of_a_real_product_is_plausible(impl, ref, device):
    """measured_mfu on a real product must run and time it, be positive and imply a product time no longer than the call itself."""
    m, k, n = 192, 160, 128
    peak = 1e15
    for backend in (impl, ref):
        out = backend.run(drivers.measured_mfu_run, m=m, k=k, n=n, dtype="float32", device=device,
                          peak_flops_per_sec=peak)
        assert isinstance(out["mfu"], float) and out["mfu"] > 0
        assert_really_timed(out, m, k, n, runs=1)
        implied_seconds = 2 * m * k * n / (out["mfu"] * peak)
        assert implied_seconds <= out["wall"] * 1.05 + 1e-6
        assert out["mfu"] * peak < (PHYSICAL_PEAK if device == "cuda" else CPU_PEAK)
