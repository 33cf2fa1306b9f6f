"""Problem 4 (hidden): timing statistics pinned with an injected clock, and arguments of every kind.

Under tests/drivers/flops_calls.py's clock, time stands still except while a product runs, and
the k-th product takes a chosen number of seconds. So "one warm-up product, then `repeats` timed
runs, and their median" has one exact answer, computed here: a mean, a minimum, a total, a median
that includes the cold first run, or median_low / median_high on an even count all differ from it.
"""

import math
import statistics

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.drivers import flops_calls as calls
from tests.oracles.flops import flops_of_one_product

pytestmark = pytest.mark.flops

COLD = 1000.0  # the first product: slow, so timing it instead of warming up shows
CYCLES = {1: [3.0], 2: [2.0, 9.0], 4: [2.0, 8.0, 4.0, 6.0], 5: [1.0, 7.0, 3.0, 50.0, 5.0], 6: [9.0, 1.0, 4.0, 30.0, 2.0, 6.0]}


@pytest.mark.parametrize("repeats", sorted(CYCLES))
def test_time_matmul_is_the_median_after_one_warm_up(impl, repeats):
    """time_matmul warms up once, then returns statistics.median of `repeats` runs timed one by one (not a mean, minimum or total; the cold run not among them)."""
    cycle = CYCLES[repeats]
    out = impl.run(calls.time_matmul_with_clock, m=24, k=16, n=8, dtype="float32", device="cpu",
                   repeats=repeats, first=COLD, cycle=cycle, flops_per_product=flops_of_one_product(24, 16, 8))
    assert out["products"] >= repeats + 1, f"time_matmul(repeats={repeats}) ran {out['products']} products: a warm-up and {repeats} timed runs expected"
    assert isinstance(out["value"], float), f"time_matmul returned {out['value']}"
    assert math.isclose(out["value"], statistics.median(cycle), rel_tol=1e-6), (
        f"time_matmul(repeats={repeats}) returned {out['value']!r} under a clock whose timed runs last {cycle} s "
        f"(after a warm-up of {COLD} s): not their median"
    )


@settings(max_examples=8)
@given(dtype=st.sampled_from(["float32", "float64", "bfloat16"]), as_device=st.booleans(),
       m=st.integers(1, 24), k=st.integers(1, 24), n=st.integers(1, 24))
@example(dtype="float32", as_device=True, m=1, k=1, n=1)
def test_time_matmul_takes_any_dtype_and_device_form(impl, dtype, as_device, m, k, n):
    """`device` may be a string or a torch.device, `dtype` any float dtype; the answer is still the median of the timed runs."""
    device = torch.device("cpu") if as_device else "cpu"
    cycle = CYCLES[5]
    out = impl.run(calls.time_matmul_with_clock, m=m, k=k, n=n, dtype=dtype, device=device, repeats=5, first=COLD, cycle=cycle,
                   flops_per_product=flops_of_one_product(m, k, n))
    assert isinstance(out["value"], float) and math.isclose(out["value"], statistics.median(cycle), rel_tol=1e-6)


@pytest.mark.parametrize("as_device", [False, True])
def test_measured_mfu_of_the_median_time(impl, as_device):
    """measured_mfu is matmul FLOPs over the median time of time_matmul's default 5 runs, over the peak."""
    m, k, n, peak = 32, 24, 16, 1e4
    cycle = CYCLES[5]
    device = torch.device("cpu") if as_device else "cpu"
    out = impl.run(calls.measured_mfu_with_clock, m=m, k=k, n=n, dtype="float32", device=device,
                   peak_flops_per_sec=peak, first=COLD, cycle=cycle, flops_per_product=flops_of_one_product(m, k, n))
    expected = 2 * m * k * n / statistics.median(cycle) / peak
    assert isinstance(out["value"], float) and math.isclose(out["value"], expected, rel_tol=1e-6), out


@pytest.mark.parametrize("kind", ["tuple", "list", "range"])
def test_linear_stack_training_flops_takes_any_sequence(impl, ref, kind):
    """`widths` is a Sequence[int]: a tuple or a range works as well as a list."""
    widths = {"tuple": (5, 8, 8, 1), "list": [5, 8, 8, 1], "range": range(2, 6)}[kind]
    want = ref.flops.linear_stack_training_flops(7, list(widths))
    if kind == "range":
        got = impl.run(calls.stack_flops_over_range, num_tokens=7, start=2, stop=6)
    else:
        got = impl.flops.linear_stack_training_flops(7, widths)
    assert type(got) is int and got == want


def test_backward_flag_by_position_and_keyword(impl, ref):
    """input_requires_grad may be passed by position or by keyword, True or False."""
    for flag in (True, False):
        want = ref.flops.linear_backward_flops(6, 5, 3, flag)
        assert impl.flops.linear_backward_flops(6, 5, 3, flag) == want
        assert impl.flops.linear_backward_flops(6, 5, 3, input_requires_grad=flag) == want


@pytest.mark.parametrize("dtype", ["bfloat16", "float64"])
def test_the_products_run_in_the_requested_dtype(impl, dtype):
    """time_matmul and measured_mfu multiply random tensors of the given dtype (not the default float32)."""
    for scenario, extra in ((calls.time_matmul_with_clock, {"repeats": 3}), (calls.measured_mfu_with_clock, {"peak_flops_per_sec": 1e4})):
        out = impl.run(scenario, m=8, k=6, n=4, dtype=dtype, device="cpu", first=COLD, cycle=[1.0, 2.0, 3.0],
                       flops_per_product=flops_of_one_product(8, 6, 4), **extra)
        assert out["operand_dtypes"] == [dtype], f"{scenario.__name__}: the products' operands were {out['operand_dtypes']}, not {dtype}"
