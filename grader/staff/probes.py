"""Trusted side: fixed probe inputs per problem, for misconception hints (grader/staff/hints.py).

A probe is one plain-data call through the seam: a function of the problem's module
(`("call", function, args, kwargs)`) or one of our drivers (`("run", driver, kwargs)`).
The same probes run on the submission (through the sandbox, at the end of its grading) and
on the reference and each mutant (in-process, trusted staff code), so their outputs can be
compared value by value. Fixed inputs rather than the suites' hypothesis examples: the same
cases for every submission and every mutant, chosen once, deterministic.

Probes are grouped by what they exercise (`group`): a mutant is judged only on the groups
where it differs from the reference, so a submission with two slips in different functions
can get both named. `keep` projects an output to what the spec fixes (the model's initial
weights are random: only their spread, truncation and shapes are compared).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

# The API's FloatFormat as the tests pass it (tests.strategies has it too, but imports
# hypothesis, which the grading parent must not load before it forks).
FloatFormat = collections.namedtuple("FloatFormat", "sign_bits exponent_bits mantissa_bits specials")


@dataclass(frozen=True)
class Probe:
    group: str
    call: tuple
    keep: Callable[[Any, tuple], Any] | None = None  # (output, call) -> what is compared


def _calls(module: str, function: str, argument_lists: list[tuple]) -> list[Probe]:
    return [Probe(f"{module}.{function}", ("call", function, args, {})) for args in argument_lists]


def _runs(group: str, driver, kwarg_lists: list[dict], keep=None) -> list[Probe]:
    return [Probe(group, ("run", driver, kwargs), keep) for kwargs in kwarg_lists]


FLOATS = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2]
ALL_DTYPES = FLOATS + [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]


def _tensors() -> list[Probe]:
    underflow_values = [1e-8, 3e-8, 5e-8, 7e-8, 1e-30, 1e-40, 1e-46, 2e-45, 1e-3, 0.0, -1e-8, float("inf"), float("nan")]
    return (
        _calls("tensors", "float_format", [(d,) for d in FLOATS] + [(torch.int32,)])
        + _calls("tensors", "bytes_per_element", [(d,) for d in ALL_DTYPES] + [(torch.complex64,)])
        + _calls("tensors", "tensor_num_bytes", [((2, 3), torch.float32), ((), torch.float16), ((4, 0, 2), torch.int64),
                                                 ((7,), torch.bool), ((3, 5), torch.bfloat16), ((2, -1), torch.float32)])
        + _calls("tensors", "machine_epsilon", [(d,) for d in FLOATS])
        + _calls("tensors", "smallest_normal", [(d,) for d in FLOATS])
        + _calls("tensors", "max_finite", [(d,) for d in FLOATS])
        + _calls("tensors", "underflows_to_zero", [(v, d) for d in (torch.float16, torch.bfloat16, torch.float8_e4m3fn) for v in underflow_values])
        + _float_formats()
        + _fp8()
    )


def _float_formats() -> list[Probe]:
    """Formats PyTorch has no finfo for: the OCP MX ones and made-up ones (no mantissa bits, nan_only)."""
    fp4, fp6_e2m3, fp6_e3m2 = FloatFormat(1, 2, 1, "none"), FloatFormat(1, 2, 3, "none"), FloatFormat(1, 3, 2, "none")
    formats = [fp4, fp6_e2m3, fp6_e3m2, FloatFormat(1, 3, 0, "nan_only"), FloatFormat(1, 4, 3, "ieee"), FloatFormat(1, 5, 1, "none")]
    return (
        _calls("tensors", "max_finite", [(f,) for f in formats])
        + _calls("tensors", "smallest_normal", [(f,) for f in formats])
        + _calls("tensors", "underflows_to_zero", [(v, f) for f in formats[:3] for v in (0.03125, 0.04, 0.0625, 0.26)])
        + _calls("tensors", "tensor_num_bytes", [((3,), fp4), ((5,), fp6_e3m2), ((2, 2), formats[4])])
    )


def _fp8() -> list[Probe]:
    """Per-tensor fp8 scaling: rows of very different sizes (a per-row scale differs), all zeros."""
    x = torch.tensor([[1e-3, -2e-3, 5e-4], [300.0, -1200.0, 40.0]])
    zeros = torch.zeros(2, 3)
    formats = (torch.float8_e4m3fn, torch.float8_e5m2)
    q = torch.tensor([[1.0, -2.0, 0.5], [448.0, -448.0, 16.0]]).to(torch.float8_e4m3fn)
    return (
        _calls("tensors", "fp8_scale", [(v, d) for v in (x, zeros, x[1], x.to(torch.bfloat16)) for d in formats])
        + _calls("tensors", "quantize_fp8", [(v, d) for v in (x, zeros) for d in formats])
        + _calls("tensors", "dequantize_fp8", [(q, torch.tensor(4.0)), (q, torch.tensor(0.25))])
    )


def _strides() -> list[Probe]:
    x = torch.arange(24.0)
    return (
        _calls("strides", "contiguous_strides", [((2, 3, 4),), ((),), ((5,),), ((2, 0, 3),), ((1, 4, 1),), ((0,),)])
        + _calls("strides", "flat_offset", [((1, 2), (3, 1), 0), ((0, 0), (3, 1), 5), ((1, 1, 1), (12, 4, 1), 2), ((2,), (3, 1), 0)])
        + _calls("strides", "is_contiguous", [((2, 3), (3, 1)), ((2, 3), (1, 2)), ((1, 3), (7, 1)), ((2, 1), (1, 5)),
                                             ((0, 3), (9, 9)), ((3,), (2,)), ((), ())])
        + _calls("strides", "transpose", [((2, 3, 4), (12, 4, 1), 0, 2), ((2, 3, 4), (12, 4, 1), -1, 0), ((2, 3), (3, 1), 1, 1),
                                         ((2, 3), (3, 1), 0, 2)])
        + _calls("strides", "narrow", [((5, 4), (4, 1), 0, 0, 1, 3), ((5, 4), (4, 1), 2, 1, -3, 2), ((5, 4), (4, 1), 0, 1, 0, 9),
                                      ((5, 4), (4, 1), 0, -1, 1, 2)])
        + _calls("strides", "view", [((2, 3, 4), (12, 4, 1), (6, 4)), ((2, 3, 4), (12, 4, 1), (-1,)), ((3, 2), (1, 3), (6,)),
                                    ((4, 1, 3), (3, 5, 1), (12,)), ((2, 0, 3), (3, 3, 1), (2, 0, 3)), ((2, 0, 3), (0, 5, 1), (2, 0, 3)),
                                    ((0, 4), (4, 1), (-1, 0)), ((2, 3), (3, 1), (4, 2)), ((2, 3), (3, 1), (-1, -1)),
                                    ((2, 3), (1, 2), (3, 2)), ((6,), (1,), (2, 1, 3))])
        + _calls("strides", "shares_storage", [(x, x[2:]), (x, x.view(4, 6).t()), (x, torch.arange(24.0)), (x[:5], x[10:])])
    )


def _named_dims() -> list[Probe]:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    w = torch.randn(4, 3, generator=g)
    heads_x, heads_w = torch.randn(2, 3, 6, generator=g), torch.randn(2, 3, generator=g)
    return (
        _calls("named_dims", "pairwise_scores", [(a, b), (a[0], b[0])])
        + _calls("named_dims", "mean_over_hidden", [(a,), (w,)])
        + _calls("named_dims", "linear", [(a, w), (b[0], w)])
        + _calls("named_dims", "per_head_linear", [(heads_x, heads_w, 3), (heads_x[0], torch.randn(3, 4, generator=g), 2)])
        + _calls("named_dims", "causal_mask", [(1,), (4,)])
    )


def _flops() -> list[Probe]:
    return (
        _calls("flops", "matmul_flops", [(2, 3, 4), (1, 1, 1), (5, 0, 7)])
        + _calls("flops", "linear_forward_flops", [(8, 4, 2), (1, 16, 3)])
        + _calls("flops", "linear_backward_flops", [(8, 4, 2), (8, 4, 2, False), (3, 5, 7, True)])
        + _calls("flops", "training_flops", [(1e9, 2e10), (7.0, 3.0)])
        + _calls("flops", "linear_stack_training_flops", [(5, (3, 4)), (2, (6, 4, 3)), (7, (2, 8, 8, 1))])
        + _calls("flops", "training_days", [(7e10, 1.4e12, 8, 1e15, 0.5), (1e9, 2e10, 1, 1e14, 1.0)])
        + _calls("flops", "max_trainable_params", [(80e9, 8), (16e9, 2, 4), (1e9, 1)])
        + _calls("flops", "model_flops_utilization", [(1e12, 2.0, 1e12), (3e9, 0.5, 1e11)])
        + _runs("flops.measured_mfu", "tests.drivers.flops:measured_mfu_with_fixed_time",
                [dict(m=8, k=8, n=8, dtype="float32", device="cpu", peak_flops_per_sec=1e4, seconds=0.5),
                 dict(m=16, k=4, n=2, dtype="float32", device="cpu", peak_flops_per_sec=1e3, seconds=2.0)])
    )


# --- model: random weights, so only what the spec fixes is compared ---------------------
def _spread(weights: torch.Tensor, d_in: int) -> tuple:
    """(std x sqrt(d_in) to one decimal, every |w| within 3 std): fan-in and truncation."""
    std = 1 / d_in**0.5
    w = weights.double()
    return round(float(w.std()) / std, 1), bool(w.abs().max() <= 3 * std * 1.0001)


def _keep_linear_init(out: dict, call: tuple) -> tuple:
    kwargs = call[2]
    weights = list(out["weights"].values())
    return (list(out["shapes"].values()), sorted(set(out["dtypes"].values())), out["num_parameters"],
            _spread(weights[0], kwargs["d_in"]) if len(weights) == 1 else None)


def _keep_linear_forward(out: dict, call: tuple) -> tuple:
    x, weight, y = call[2]["x"], out["weight"], out["out"]
    matches = y.shape == x.shape[:-1] + weight.shape[-1:] and torch.allclose(y, x @ weight, rtol=1e-4, atol=1e-5)
    return tuple(weight.shape), tuple(y.shape), bool(matches), out["out_requires_grad"]


def _keep_cruncher_init(out: dict, call: tuple) -> tuple:
    # named_parameters() lists a shared layer once, so the count of weights shows sharing
    return (sorted(tuple(s) for s in out["shapes"].values()), sorted(set(out["dtypes"].values())),
            out["num_parameters"], len(out["weights"]))


def _keep_cruncher_forward(out: dict, call: tuple) -> tuple:
    y = out["out"]
    return tuple(y.shape), str(y.dtype), out["num_parameters"]


def _model() -> list[Probe]:
    g = torch.Generator().manual_seed(1)
    return (
        _runs("model.linear_init", "tests.drivers.model:linear_init",
              [dict(d_in=256, d_out=16), dict(d_in=16, d_out=512), dict(d_in=64, d_out=64, dtype=torch.float64)], _keep_linear_init)
        + _runs("model.linear_forward", "tests.drivers.model:linear_forward",
                [dict(d_in=4, d_out=3, x=torch.randn(2, 4, generator=g)), dict(d_in=3, d_out=5, x=torch.randn(2, 2, 3, generator=g))],
                _keep_linear_forward)
        + _runs("model.cruncher_init", "tests.drivers.model:cruncher_init",
                [dict(dim=4, num_layers=3), dict(dim=2, num_layers=1), dict(dim=3, num_layers=2, dtype=torch.float64)], _keep_cruncher_init)
        + _runs("model.cruncher_forward", "tests.drivers.model:cruncher_forward",
                [dict(dim=4, num_layers=2, x=torch.randn(3, 4, generator=g)), dict(dim=4, num_layers=2, x=torch.randn(1, 4, generator=g)),
                 dict(dim=3, num_layers=1, x=torch.randn(2, 3, generator=g, dtype=torch.float64))], _keep_cruncher_forward)
    )


# --- optimizers -----------------------------------------------------------------------
def _optimizers() -> list[Probe]:
    g = torch.Generator().manual_seed(2)
    params = [torch.randn(3, generator=g), torch.randn(2, 2, generator=g)]
    grads = [[torch.randn(3, generator=g), torch.randn(2, 2, generator=g) * 1e-3] for _ in range(4)]
    skipping = [[grads[s][0], None if s % 2 else grads[s][1]] for s in range(4)]
    run = "tests.drivers.optimizers:run_optimizer"
    construct = "tests.drivers.optimizers:construct"
    reloaded = "tests.drivers.optimizers:reloaded_at"
    groups = [{"indices": [0], "lr": 0.5}, {"indices": [1]}]
    return (
        _runs("optimizers.sgd", run, [dict(name="SGD", params=params, grads=grads, hyper={"lr": 0.1}),
                                      dict(name="SGD", params=params, grads=grads, hyper={"lr": 0.1}, groups=groups),
                                      dict(name="SGD", params=params, grads=skipping, hyper={"lr": 0.1})])
        + _runs("optimizers.adagrad", run, [dict(name="AdaGrad", params=params, grads=grads, hyper={"lr": 0.1, "eps": 0.5}),
                                            dict(name="AdaGrad", params=params, grads=grads, hyper={"lr": 0.1})])
        + _runs("optimizers.adagrad", reloaded, [dict(name="AdaGrad", params=params, grads=skipping, hyper={"lr": 0.1, "eps": 1e-3}, save_at=2)])
        + _runs("optimizers.adamw", run, [dict(name="AdamW", params=params, grads=grads, hyper={"lr": 0.1, "weight_decay": 0.5}),
                                          dict(name="AdamW", params=params, grads=grads, hyper={"lr": 0.01, "betas": (0.5, 0.9), "eps": 0.1, "weight_decay": 0.0}),
                                          dict(name="AdamW", params=params, grads=skipping, hyper={"lr": 0.1, "weight_decay": 0.1})])
        + _runs("optimizers.adamw", reloaded, [dict(name="AdamW", params=params, grads=skipping, hyper={"lr": 0.1}, save_at=2)])
        + _runs("optimizers.checks", construct, [dict(name="AdamW", hyper={"betas": (1.0, 0.9)}), dict(name="AdamW", hyper={"betas": (0.9, 1.0)}),
                                                 dict(name="AdamW", hyper={"lr": -1.0}), dict(name="AdamW", hyper={"weight_decay": -0.1}),
                                                 dict(name="AdaGrad", hyper={"eps": -1.0}), dict(name="SGD", hyper={"lr": -0.5}),
                                                 dict(name="AdamW", hyper={"betas": (0.0, 0.5)})])
    )


def _state_shape(out: dict, call: tuple) -> dict:
    """An optimizer run without its state's key names (free in the spec): trajectories, state present or not."""
    return {"trajectory": out["trajectory"], "has_state": [s is not None for s in out["state"]]}


def _accounting() -> list[Probe]:
    return (
        _calls("accounting", "cruncher_num_parameters", [(4, 2), (3, 1), (10, 0)])
        + _calls("accounting", "cruncher_num_activations", [(2, 4, 2), (1, 3, 5), (7, 2, 1)])
        + _calls("accounting", "optimizer_state_values", [(10, "sgd"), (10, "adagrad"), (10, "adamw"), (10, "Adam")])
        + _calls("accounting", "training_memory", [(4, 2, 2), (4, 2, 2, "adamw", 2), (3, 1, 5, "sgd", 8)])
        + _keyword_calls("accounting", "bytes_per_parameter", [
            {}, {"master_dtype": None}, {"optimizer": "sgd"},
            {"weight_dtype": torch.float32, "grad_dtype": torch.float32, "master_dtype": None},
            {"weight_dtype": torch.float16, "grad_dtype": torch.float32, "state_dtype": torch.bfloat16}])
        + [Probe("accounting.mixed_precision_memory", ("call", "mixed_precision_memory", (4, 2, 3), kwargs)) for kwargs in (
            {}, {"master_dtype": None}, {"weight_dtype": torch.float32, "activation_dtype": torch.bfloat16},
            {"optimizer": "adagrad", "state_dtype": torch.float64})]
    )


def _keyword_calls(module: str, function: str, kwarg_lists: list[dict]) -> list[Probe]:
    return [Probe(f"{module}.{function}", ("call", function, (), kwargs)) for kwargs in kwarg_lists]


def _training() -> list[Probe]:
    data = np.arange(20, dtype=np.int64)
    short = np.arange(6, dtype=np.uint16)
    batches = "tests.drivers.training:batches"
    return (
        _runs("training.set_seed", "tests.drivers.training:seed_draws", [dict(seeds=[0, 1, 2**32 - 1])])
        + _runs("training.get_batch", batches, [dict(data=data, batch_size=4, context_length=3, generator_seed=0, calls=3),
                                                dict(data=short, batch_size=8, context_length=4, generator_seed=1, calls=4),
                                                dict(data=data, batch_size=2, context_length=5, generator_seed=None, global_seed=3)])
        + _runs("training.train_step", "tests.drivers.training:train_steps",
                [dict(optimizer="sgd", steps=3, seed=0), dict(optimizer="adamw", steps=2, seed=1, autocast_dtype=torch.bfloat16)])
        + _runs("training.checkpoint", "tests.drivers.training:checkpoint_roundtrip",
                [dict(optimizer="adamw", target="bytesio", iteration=5, seed=0), dict(optimizer="sgd", target="str", iteration=0, seed=1)])
        + _runs("training.train", "tests.drivers.training:resume", [dict(optimizer="adamw", num_steps=6, stop_at=4, every=2, seed=0)])
    )


def _with_keep(probes: list[Probe], group: str, keep) -> list[Probe]:
    return [Probe(p.group, p.call, keep) if p.group == group else p for p in probes]


def for_problem(problem: str) -> list[Probe]:
    """The probes of one problem (built fresh: tensors in them must not be shared across runs)."""
    builders = {
        "tensors": _tensors, "strides": _strides, "named_dims": _named_dims, "flops": _flops, "model": _model,
        "optimizers": lambda: _with_keep(_with_keep(_with_keep(_optimizers(), "optimizers.sgd", _state_shape),
                                                    "optimizers.adagrad", _state_shape), "optimizers.adamw", _state_shape),
        "accounting": _accounting, "training": _training,
    }
    return builders[problem]()

