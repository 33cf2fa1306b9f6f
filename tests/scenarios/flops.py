"""Scenarios for problem 4: timing runs on a device, next to the implementation.

Each takes the implementation and plain inputs and returns plain data (floats, dicts,
strings). dtypes travel as names ("float32").
"""

import time

import torch


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
    for m, k, n in shapes:
        _sync(device)
        start = time.perf_counter()
        seconds = impl.flops.time_matmul(m, k, n, getattr(torch, dtype), device, repeats=repeats)
        _sync(device)
        wall = time.perf_counter() - start
        results.append({"shape": [m, k, n], "seconds": _plain(seconds), "wall": wall})
    return results


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
        mfu = module.measured_mfu(m, k, n, getattr(torch, dtype), device, peak_flops_per_sec)
    finally:
        module.time_matmul = original
    return {"mfu": _plain(mfu), "used_time_matmul": bool(calls)}


def measured_mfu_run(impl, m: int, k: int, n: int, dtype: str, device: str, peak_flops_per_sec: float) -> dict:
    """measured_mfu on a real product, with the wall seconds of the call."""
    _sync(device)
    start = time.perf_counter()
    mfu = impl.flops.measured_mfu(m, k, n, getattr(torch, dtype), device, peak_flops_per_sec)
    _sync(device)
    return {"mfu": _plain(mfu), "wall": time.perf_counter() - start}
