"""The public suite's expected values, shipped as numbers: a staff command.

    python -m tests.oracles.public_values          # write tests/public/expected_values.json
    python -m tests.oracles.public_values --check  # exit 1 if the file is stale

The public tests go to students, so they carry no code of ours that computes what the handout
asks students to derive (no `_torch_step`, no fp8 cast oracle, no FLOP-counting twin of an API
function). What they compare with is computed here instead, from PyTorch, the oracles and the
reference, for the public tests' own fixed inputs, and read by the tests through the
`expected_values` fixture (tests/public/conftest.py). tests/project/test_public_values.py
computes it all again and fails when the file and this module disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.drivers import optimizers as optimizer_driver
from tests.oracles import accounting, flops, training
from seam import REPO_ROOT, load_reference

PATH = REPO_ROOT / "tests" / "public" / "expected_values.json"
FLOAT_DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2")
FP8_DTYPE_NAMES = ("float8_e4m3fn", "float8_e5m2")


def compute() -> dict:
    """Every expected value the public tests read, by key."""
    return {**_tensors(), **_flops(), **_optimizers(), **_accounting(), **_training()}


# --- problem 1 ------------------------------------------------------------------------------


def _tensors() -> dict:
    layouts = {}
    for name in FLOAT_DTYPE_NAMES:
        info = torch.finfo(getattr(torch, name))
        mantissa = round(-math.log2(info.eps))
        layouts[name] = [1, info.bits - 1 - mantissa, mantissa]
    worked = torch.tensor([1e5, -3.0, 1e-3, 0.0])
    return {
        "tensors.float_format": layouts,
        "tensors.fp8_worked_example": {name: _fp8_case(worked, name) for name in FP8_DTYPE_NAMES},
        "tensors.fp8_cases": [_fp8_case(x, name) for x, name in _fp8_inputs()],
    }


def _fp8_cast(x: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, float]:
    """PyTorch's own cast of x scaled onto the format's max (float64 scale, float32 product)."""
    top = torch.finfo(dtype).max
    amax = x.double().abs().max().item() if x.numel() else 0.0
    scale = top / amax if amax > 0 else 1.0
    return (x.float() * scale).clamp(-top, top).to(dtype), scale


def _fp8_case(x: torch.Tensor, name: str) -> dict:
    q, scale = _fp8_cast(x, getattr(torch, name))
    return {"x": x.double().flatten().tolist(), "shape": list(x.shape), "source": str(x.dtype).removeprefix("torch."),
            "dtype": name, "scale": scale, "q": q.float().flatten().tolist()}


def _fp8_inputs() -> list[tuple[torch.Tensor, str]]:
    """Fixed tensors in the spirit of tests/strategies.py's fp8_inputs: magnitudes spread over
    many binades around a centre, signs and exact zeros, a 0-d and an empty one, all-zero."""
    g = torch.Generator().manual_seed(2024)
    cases = []
    for i, (source, centre, spread, shape) in enumerate([
        ("float32", 0, 20, (3, 4)), ("float32", -30, 12, (5,)), ("float32", 35, 6, (2, 3)),
        ("bfloat16", -20, 16, (4, 2)), ("bfloat16", 10, 20, (6,)), ("float16", -10, 8, (3, 3)),
        ("float16", 4, 6, (2, 2, 2)), ("float32", 0, 0, ()), ("float32", 0, 0, (0,)),
    ]):
        count = math.prod(shape)
        exponents = (torch.rand(count, generator=g, dtype=torch.float64) * 2 - 1) * spread + centre
        signs = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)[torch.randint(0, 3, (count,), generator=g)]
        values = (signs * 2.0**exponents).reshape(shape) if count > 1 else (2.0**exponents).reshape(shape)
        top = torch.finfo(getattr(torch, source)).max / 2
        x = values.clamp(-top, top).to(getattr(torch, source))
        cases.append((x, FP8_DTYPE_NAMES[i % 2]))
    cases.append((torch.zeros(2, 3), "float8_e4m3fn"))
    return cases


# --- problem 4 ------------------------------------------------------------------------------


def _flops() -> dict:
    counted = {}
    for num_tokens, widths in [(10, [4, 3]), (8, [16, 32, 16, 1]), (5, [7, 7, 7])]:
        layers = torch.nn.Sequential(*(torch.nn.Linear(a, b, bias=False, device="meta") for a, b in zip(widths, widths[1:])))
        x = torch.empty(num_tokens, widths[0], device="meta")  # data: needs no gradient
        with FlopCounterMode(display=False) as counter:
            layers(x).sum().backward()
        counted[f"{num_tokens} {widths}"] = counter.get_total_flops()
    # What the product clock of tests/drivers/flops_calls.py turns into products (the time_matmul test's sizes).
    return {"flops.linear_stack_training_flops": counted, "flops.counted_per_product 24 16 8": flops.flops_of_one_product(24, 16, 8)}


# --- problem 6 ------------------------------------------------------------------------------


def _optimizers() -> dict:
    lr, eps, p, g2 = 0.1, 0.5, [1.0, -2.0], [0.0, 0.0]
    trajectory = [p]
    for row in [[0.5, 1.0], [1.0, -2.0]]:  # AdaGrad's definition, in float64
        g2 = [s + g * g for s, g in zip(g2, row)]
        p = [x - lr * g / math.sqrt(s + eps) for x, g, s in zip(p, row, g2)]
        trajectory.append(p)
    gen = torch.Generator().manual_seed(1)
    params = [torch.randn(4, generator=gen)]
    grads = [[torch.randn(4, generator=gen)] for _ in range(6)]
    straight = optimizer_driver.run_optimizer(load_reference(), name="AdaGrad", params=params, grads=grads, hyper={"lr": 0.05})
    return {
        "optimizers.adagrad_two_steps": {"trajectory": trajectory, "g2": g2},
        "optimizers.adagrad_uninterrupted": straight["trajectory"][0].tolist(),
    }


# --- problem 7 ------------------------------------------------------------------------------


def _accounting() -> dict:
    shapes = [(4, 4), (4, 4), (4, 1)]
    saved = accounting.torch_saved_values(3, 5, 4)
    steps = {f"{recipe} 2 4 2": accounting.torch_mixed_precision_step(2, 4, 2, "adamw", accounting.RECIPES[recipe])
             for recipe in ["bf16_fp32_master"]}
    steps |= {f"{recipe} 3 5 2": accounting.torch_mixed_precision_step(3, 5, 2, "adamw", accounting.RECIPES[recipe])
              for recipe in ["bf16_fp32_master", "autocast_bf16", "fp32"]}
    return {
        "accounting.num_parameters": {f"{d} {n}": accounting.torch_num_parameters(d, n) for d, n in [(4, 2), (1, 1), (3, 0), (5, 3)]},
        "accounting.saved_values 3 5 4": {"activations": saved["activations"], "input": saved["input"]},
        "accounting.state_values": {name: accounting.torch_state_values(name, shapes)[0] for name in ("sgd", "adagrad", "adamw")},
        "accounting.mixed_precision_step": steps,
        "accounting.recipe_dtypes": {name: _dtype_names(recipe) for name, recipe in accounting.RECIPES.items()},
    }


def _dtype_names(recipe: accounting.Recipe) -> dict:
    """A recipe as mixed_precision_memory's keyword arguments, dtypes by name (None stays None)."""
    kwargs = {**recipe.dtypes(), "activation_dtype": recipe.activation}
    return {key: None if dtype is None else str(dtype).removeprefix("torch.") for key, dtype in kwargs.items()}


# --- problem 8 ------------------------------------------------------------------------------


def _training() -> dict:
    sgd = training.torch_train_steps("sgd", 3, 0)
    fp32 = training.torch_train_steps("adamw", 2, 1)
    bf16 = training.torch_train_steps("adamw", 2, 1, torch.bfloat16)
    return {
        "training.seed_draws": {str(seed): training.seeded_draws(seed) for seed in (7, 8, 2**32 - 1)},
        "training.train_steps.sgd": {"losses": sgd["losses"], "params": [p.tolist() for p in sgd["params"]]},
        "training.train_steps.adamw_bf16": {"float32_first_loss": fp32["losses"][0],
                                            "params": [p.tolist() for p in bf16["params"]]},
        "training.train.adamw": {"losses": training.torch_train("adamw", 8, init_seed=0, data_seed=0)["losses"]},
    }


# --- the file ---------------------------------------------------------------------------------


def render(values: dict) -> str:
    return json.dumps(values, indent=1, sort_keys=True) + "\n"


def disagreements(stored, fresh, where: str = "") -> list[str]:
    """Where `stored` (the file) and `fresh` (computed now) differ: structure, ints and strings
    exactly; floats to 1e-5 relative or 1e-7 absolute: another CPU rounds a float32 matmul
    differently (an AVX-512 machine moved an SGD parameter near zero by 3.5e-9, 2.9e-5 of it),
    and the public tests compare with assert_close's float32 atol of 1e-5, a hundred times more."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        if stored.keys() != fresh.keys():
            return [f"{where}: keys {sorted(stored)} != {sorted(fresh)}"]
        return [d for key in stored for d in disagreements(stored[key], fresh[key], f"{where}/{key}")]
    if isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            return [f"{where}: {len(stored)} items != {len(fresh)}"]
        return [d for i, (a, b) in enumerate(zip(stored, fresh)) for d in disagreements(a, b, f"{where}[{i}]")]
    if isinstance(stored, float) or isinstance(fresh, float):
        ok = isinstance(stored, (int, float)) and isinstance(fresh, (int, float)) and math.isclose(stored, fresh, rel_tol=1e-5, abs_tol=1e-7)
        return [] if ok else [f"{where}: {stored!r} != {fresh!r}"]
    return [] if type(stored) is type(fresh) and stored == fresh else [f"{where}: {stored!r} != {fresh!r}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the file; write nothing")
    args = parser.parse_args(argv)
    values = compute()
    if args.check:
        found = disagreements(json.loads(PATH.read_text()), values) if PATH.is_file() else ["no file"]
        print(f"{PATH.relative_to(REPO_ROOT)}: " + ("up to date" if not found else
              f"stale ({found[0]}); run python -m tests.oracles.public_values"))
        return 1 if found else 0
    PATH.write_text(render(values))
    print(f"wrote {PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
