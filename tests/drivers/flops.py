"""Drivers for problem 4: timing runs on a device, next to the implementation.

Each takes the implementation and plain inputs and returns plain data (floats, dicts,
strings). dtypes travel as names ("float32").

Timing is done with ONE torch thread, set here and restored after: the verdict must not
depend on how many threads the caller's process has (the grader gives a worker its share of
the cores, pytest on a laptop all of them), and with two threads on a busy 2-core machine a
tiny product can wait a whole scheduling quantum for its second thread.

A timing is only worth points if it timed something: `instrumented` runs a call while
PyTorch's FlopCounterMode counts the FLOPs of every product that actually ran, and a
profile hook counts reads of a clock (time.perf_counter and friends, or a CUDA event's
elapsed_time), however the code imported them.
"""

import contextlib
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

CLOCKS = frozenset({time.perf_counter, time.perf_counter_ns, time.monotonic, time.monotonic_ns,
                    time.time, time.time_ns, time.process_time, time.process_time_ns,
                    time.thread_time, time.thread_time_ns})


@contextlib.contextmanager
def one_thread():
    """Time with one torch thread (see the module docstring), whatever the caller had."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def instrumented(call) -> dict:
    """call()'s value, the FLOPs of the products it ran, and how often it read a clock."""
    reads = [0]

    def profile(frame, event, arg):
        if event == "c_call" and arg in CLOCKS:
            reads[0] += 1
        elif event == "call" and frame.f_code.co_name == "elapsed_time" and "cuda" in frame.f_code.co_filename:
            reads[0] += 1

    previous = sys.getprofile()
    with FlopCounterMode(display=False) as counter:
        sys.setprofile(profile)
        try:
            value = call()
        finally:
            sys.setprofile(previous)
    return {"value": _plain(value), "flops": int(counter.get_total_flops()), "clock_reads": reads[0]}


def _plain(value):
    """A float stays a float; anything else comes back as its repr, for the test to report."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_matmul_calls(impl, device: str, dtype: str, shapes: list, repeats: int) -> list:
    """For each (m, k, n): what time_matmul returns, and the wall seconds the call itself took.

    Every timed run happens inside the call, so the median of `repeats` runs can be at most
    wall / ceil(repeats / 2): at least that many runs are no shorter than the median.
    """
    results = []
    with one_thread():
        for m, k, n in shapes:
            _sync(device)
            start = time.perf_counter()
            seconds = impl.flops.time_matmul(m, k, n, getattr(torch, dtype), device, repeats=repeats)
            _sync(device)
            wall = time.perf_counter() - start
            results.append({"shape": [m, k, n], "seconds": _plain(seconds), "wall": wall})
    return results


def time_matmul_instrumented(impl, m: int, k: int, n: int, dtype: str, device: str, repeats: int) -> dict:
    """One time_matmul call under `instrumented`: did the products run, was the clock read?"""
    with one_thread():
        out = instrumented(lambda: impl.flops.time_matmul(m, k, n, getattr(torch, dtype), device, repeats=repeats))
    return {"seconds": out["value"], "flops": out["flops"], "clock_reads": out["clock_reads"]}


def measured_mfu_with_fixed_time(impl, m: int, k: int, n: int, dtype: str, device: str,
                                 peak_flops_per_sec: float, seconds: float) -> dict:
    """measured_mfu while the module's time_matmul is replaced by one that answers `seconds`.

    A measured_mfu that times by itself (without calling time_matmul) is legal: then
    `used_time_matmul` is False and the test only checks that the answer is plausible.
    """
    module = impl.flops
    original = module.time_matmul
    calls = []

    def fixed_time(*args, **kwargs):
        calls.append((args, kwargs))
        return seconds

    module.time_matmul = fixed_time
    try:
        with one_thread():
            out = instrumented(lambda: module.measured_mfu(m, k, n, getattr(torch, dtype), device, peak_flops_per_sec))
    finally:
        module.time_matmul = original
    return {"mfu": out["value"], "used_time_matmul": bool(calls), "flops": out["flops"], "clock_reads": out["clock_reads"]}


def measured_mfu_run(impl, m: int, k: int, n: int, dtype: str, device: str, peak_flops_per_sec: float) -> dict:
    """measured_mfu on a real product, with the wall seconds of the call; then the same call
    instrumented (products run, clock read). Two calls, so the hooks slow no timed one."""
    with one_thread():
        _sync(device)
        start = time.perf_counter()
        mfu = impl.flops.measured_mfu(m, k, n, getattr(torch, dtype), device, peak_flops_per_sec)
        _sync(device)
        wall = time.perf_counter() - start
        out = instrumented(lambda: impl.flops.measured_mfu(m, k, n, getattr(torch, dtype), device, peak_flops_per_sec))
    return {"mfu": _plain(mfu), "wall": wall, "flops": out["flops"], "clock_reads": out["clock_reads"]}
