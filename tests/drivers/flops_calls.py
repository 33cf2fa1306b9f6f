"""Driver for problem 4: time_matmul and measured_mfu under an injected clock (no oracle here).

Every clock the code can read (time.perf_counter and friends, however they were imported,
and timeit's default timer) is replaced by one that moves only when a product runs: the
k-th product (counted with PyTorch's FlopCounterMode: the FLOPs it counted over `flops_per_product`,
what it counts for one product, which the test computes on the trusted side) takes `seconds_of(k)`:
`first` for the first product, then `cycle[(k - 1) % len(cycle)]`. So a warm-up run,
and which statistic of the timed runs is returned, become exact numbers the test (on the
trusted side) can compare with; whatever extra warm-up runs precede the timed ones, any
`len(cycle)` consecutive timed runs hold the same values.
"""

import contextlib
import time
import timeit

import torch
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils.flop_counter import FlopCounterMode

_SECOND_CLOCKS = ("perf_counter", "monotonic", "time", "process_time", "thread_time")


class _ProductClock:
    def __init__(self, counter: FlopCounterMode, flops_per_product: int, first: float, cycle: list):
        self.counter, self.per_product = counter, max(flops_per_product, 1)
        self.first, self.cycle = first, cycle

    def seconds(self) -> float:
        products = self.counter.get_total_flops() // self.per_product
        whole, rest = divmod(max(products - 1, 0), len(self.cycle))
        return (self.first if products else 0.0) + whole * sum(self.cycle) + sum(self.cycle[:rest])

    def nanoseconds(self) -> int:
        return round(self.seconds() * 1e9)


@contextlib.contextmanager
def _clocks_replaced(module, clock: _ProductClock):
    """time.*, timeit.default_timer and any clock the module bound by name all read `clock`."""
    fakes = {}
    for name in _SECOND_CLOCKS:
        fakes[getattr(time, name)] = clock.seconds
        fakes[getattr(time, name + "_ns")] = clock.nanoseconds
    patched = [(time, name, getattr(time, name)) for name in _SECOND_CLOCKS + tuple(n + "_ns" for n in _SECOND_CLOCKS)]
    patched.append((timeit, "default_timer", timeit.default_timer))
    patched += [(module, name, value) for name, value in vars(module).items() if _hashable(value) and value in fakes]
    try:
        for owner, name, value in patched:
            setattr(owner, name, fakes.get(value, clock.seconds))
        yield
    finally:
        for owner, name, value in reversed(patched):
            setattr(owner, name, value)


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


_PRODUCTS = ("matmul", "mm", "bmm", "einsum", "linear", "tensordot", "dot", "addmm", "mv")


class _OperandDtypes(TorchFunctionMode):
    """The dtypes of the tensors that matrix products were given."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = (resolve_name(func) or repr(func)).rsplit(".", 1)[-1].strip("_")
        if name in _PRODUCTS:
            for value in list(args) + list((kwargs or {}).values()):
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    self.seen.add(str(value.dtype).removeprefix("torch."))
        return func(*args, **(kwargs or {}))


def _with_product_clock(impl, flops_per_product, first, cycle, call):
    operands = _OperandDtypes()
    per_product = max(int(flops_per_product), 1)
    with FlopCounterMode(display=False) as counter:
        with _clocks_replaced(impl.flops, _ProductClock(counter, per_product, first, list(cycle))), operands:
            value = call()
        products = counter.get_total_flops() // per_product
    return {"value": value if isinstance(value, float) else repr(value), "products": int(products),
            "operand_dtypes": sorted(operands.seen)}


def time_matmul_with_clock(impl, m: int, k: int, n: int, dtype: str, device, repeats: int, first: float, cycle: list,
                           flops_per_product: int) -> dict:
    """time_matmul(m, k, n, dtype, device, repeats=repeats) while the clock moves only with products."""
    return _with_product_clock(
        impl, flops_per_product, first, cycle, lambda: impl.flops.time_matmul(m, k, n, getattr(torch, dtype), device, repeats=repeats)
    )


def measured_mfu_with_clock(impl, m: int, k: int, n: int, dtype: str, device, peak_flops_per_sec: float, first: float,
                            cycle: list, flops_per_product: int) -> dict:
    """measured_mfu(m, k, n, dtype, device, peak) under the same clock (time_matmul's default repeats)."""
    return _with_product_clock(
        impl, flops_per_product, first, cycle, lambda: impl.flops.measured_mfu(m, k, n, getattr(torch, dtype), device, peak_flops_per_sec)
    )


def stack_flops_over_range(impl, num_tokens: int, start: int, stop: int):
    """linear_stack_training_flops with `widths` a range (a Sequence that is no list or tuple)."""
    return impl.flops.linear_stack_training_flops(num_tokens, range(start, stop))
