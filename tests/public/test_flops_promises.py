"""Problem 4 (public): time_matmul's statistic, under a clock the test controls.

tests/drivers/flops_calls.py replaces every clock your code can read with one that moves only
while a product runs: the first product takes 1000 s (a cold start), the next ones 1, 7, 3, 50 and
5 s, over and over. One warm-up, then five runs timed one by one, have the median 5.0.
"""

import math

import pytest

from tests.drivers import flops_calls as calls

pytestmark = pytest.mark.flops


def test_time_matmul_warms_up_then_takes_the_median(impl, expected_values):
    """time_matmul runs the product once to warm up, then times `repeats` runs one by one and returns their statistics.median."""
    out = impl.run(calls.time_matmul_with_clock, m=24, k=16, n=8, dtype="float32", device="cpu", repeats=5,
                   first=1000.0, cycle=[1.0, 7.0, 3.0, 50.0, 5.0],
                   flops_per_product=expected_values["flops.counted_per_product 24 16 8"])
    value = out["value"]
    readings = {1000 + 1 + 7 + 3 + 50: "the total of the runs, warm-up included", 7.0: "the median with the cold first run timed (no warm-up)",
                13.2: "the mean", 1.0: "the minimum", 66.0: "the total of the timed runs"}
    why = next((text for number, text in readings.items() if isinstance(value, float) and math.isclose(value, number)), None)
    assert isinstance(value, float) and math.isclose(value, 5.0, rel_tol=1e-6), (
        f"time_matmul(24, 16, 8, repeats=5) returned {value!r} under a clock where the first product takes 1000 s and the "
        f"next ones 1, 7, 3, 50, 5 s; expected 5.0, the median of the timed runs after one warm-up"
        + (f" (that is {why})" if why else "") + ". Hint: warm up once, time each run with time.perf_counter(), "
        "return statistics.median."
    )
