"""Trusted side: the suites' own requests, used as probes for misconception hints (grader/core/hints.py).

A probe is one request the suites made (grader/core/replies.py records them while grading): a call of
a function of the problem's module (`("call", function, args, kwargs)`) or one of our drivers
(`("run", "tests.drivers.M:name", kwargs)`). The submission's reply to it is already known; the
reference and each mutant answer the same request here, in-process (staff code), and the answers are
compared value by value.

Not every request can be compared: timing drivers measure the machine (NONDETERMINISTIC), drivers run
in a fresh process are fed the submission's own earlier output (neither is recorded: `comparable`), and
some outputs hold what the spec leaves free (random initial weights, optimizer state key names, the
bytes a memmap read copies). `KEEP` projects those outputs onto what the spec fixes.
"""

from __future__ import annotations

import functools
import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

# Drivers whose outputs are measurements of this machine (seconds, wall time): never compared.
NONDETERMINISTIC = frozenset({
    "tests.drivers.flops:time_matmul_calls",
    "tests.drivers.flops:time_matmul_instrumented",
    "tests.drivers.flops:measured_mfu_run",
})


@functools.lru_cache(maxsize=None)
def comparable(driver: str) -> bool:
    """Whether a driver's answers can be compared across implementations. Not a timing, and not a
    `fresh_process` driver: those are fed what the submission itself returned earlier (a state_dict, a
    checkpoint's bytes), in the submission's own format, which the reference and the mutants need not read."""
    if driver in NONDETERMINISTIC:
        return False
    module, name = driver.split(":")
    return not getattr(getattr(importlib.import_module(module), name, None), "fresh_process", False)


@dataclass(frozen=True)
class Probe:
    group: str
    call: tuple
    keep: Callable[[Any, tuple], Any] | None = None  # (output, call) -> what is compared


# --- projections: what the spec fixes of an output ---------------------------------------------
def _spread(weights: torch.Tensor, d_in: int) -> tuple:
    """(std x sqrt(d_in) in half-octave steps, every |w| within 3 std): fan-in and truncation, coarse
    enough that two samplers of the same distribution (different draws) land in the same step."""
    std = 1 / max(d_in, 1) ** 0.5
    w = weights.double()
    ratio = float(w.std()) / std
    step = round(2 * math.log2(ratio)) if ratio > 0 else None
    return step, bool(w.abs().max() <= 3 * std * 1.0001)


def _keep_linear_init(out: dict, call: tuple) -> tuple:
    weights = list(out["weights"].values())
    d_in = call[2].get("d_in", 1)
    return (list(out["shapes"].values()), sorted(set(out["dtypes"].values())), out["num_parameters"],
            _spread(weights[0], d_in) if len(weights) == 1 and weights[0].numel() >= 256 else None)


def _keep_linear_forward(out: dict, call: tuple) -> tuple:
    x, weight, y = call[2]["x"], out["weight"], out["out"]
    matches = y.shape == x.shape[:-1] + weight.shape[-1:] and torch.allclose(y, x @ weight, rtol=1e-4, atol=1e-5)
    return tuple(weight.shape), tuple(y.shape), bool(matches), out["out_requires_grad"]


def _keep_cruncher_init(out: dict, call: tuple) -> tuple:
    # named_parameters() lists a shared layer once, so the count of weights shows sharing
    return (sorted(tuple(s) for s in out["shapes"].values()), sorted(set(out["dtypes"].values())),
            out["num_parameters"], len(out["weights"]))


def _keep_cruncher_forward(out: dict, call: tuple) -> tuple:
    """Shape, dtype, count, and whether the output is the layers then the head applied, on its own weights."""
    y, x, weights = out["out"], call[2]["x"], out["weights"]
    chained = x
    for i in range(call[2].get("num_layers", 0)):
        chained = chained @ weights.get(f"layers.{i}.weight", torch.empty(0))
    matches = bool(torch.allclose(y.double(), (chained @ weights["head.weight"]).squeeze(-1).double(), rtol=1e-3, atol=1e-5)) if "head.weight" in weights else False
    return tuple(y.shape), str(y.dtype), out["num_parameters"], matches


def _keep_optimizer_run(out: dict, call: tuple) -> dict:
    """An optimizer run without its state's key names (free in the spec): trajectories, state present or not."""
    return {"trajectory": out["trajectory"], "has_state": [s is not None for s in out["state"]]}


def _keep_checker(out: dict, call: tuple) -> dict:
    """What the runtime checker said, by kind only (messages name types and addresses)."""
    return {step: str(text).split(":")[0] for step, text in out.items()}


def _keep_result(out: dict, call: tuple) -> Any:
    """The einsum-rule driver's result, not the ops it ran (an implementation's own business here)."""
    return out["result"]


def _keep_value(out: dict, call: tuple) -> Any:
    """A timing under the injected clock: the value, not how many extra warm-up products ran."""
    return out["value"]


def _keep_memmap(out: dict, call: tuple) -> tuple:
    """The batch and whether the call copied more than 1/16 of the file (the test's bound), not the byte count."""
    return out["x"], out["y"], out["dtype"], out["bytes_copied"] > out["dataset_bytes"] // 16


KEEP = {
    "tests.drivers.model:linear_init": _keep_linear_init,
    "tests.drivers.model:linear_forward": _keep_linear_forward,
    "tests.drivers.model:cruncher_init": _keep_cruncher_init,
    "tests.drivers.model:cruncher_forward": _keep_cruncher_forward,
    "tests.drivers.optimizers:run_optimizer": _keep_optimizer_run,
    "tests.drivers.tensors:fp8_under_the_checker": _keep_checker,
    "tests.drivers.training:memmap_batch": _keep_memmap,
    "tests.drivers.named_dims:ops_executed": _keep_result,
    "tests.drivers.flops_calls:time_matmul_with_clock": _keep_value,
    "tests.drivers.flops_calls:measured_mfu_with_clock": _keep_value,
}


def probe_of(group: str, call: tuple) -> Probe:
    return Probe(group, call, KEEP.get(group))
