"""Trusted side: the napkin questions' answer key, computed by the reference from a student's numbers.

The numbers come from `student/questions.py` (the draws the student bundle ships); the answers
exist only here, on the grader's side, and come out of the reference's own functions, so the
key and Problems 4 and 7 cannot disagree. Nothing of this module is shipped to students.
"""

from __future__ import annotations

import torch

from solutions import accounting, flops

BF16, FP32 = torch.bfloat16, torch.float32

# student/questions.py's RECIPES and CRUNCHER_RECIPES, as dtypes (the question's words say the same).
RECIPES = {
    "adamw-mixed": dict(optimizer="adamw", weight_dtype=BF16, grad_dtype=BF16, master_dtype=FP32, state_dtype=FP32),
    "adamw-fp32": dict(optimizer="adamw", weight_dtype=FP32, grad_dtype=FP32, master_dtype=None, state_dtype=FP32),
    "adamw-bf16-moments": dict(optimizer="adamw", weight_dtype=BF16, grad_dtype=BF16, master_dtype=FP32, state_dtype=BF16),
    "adagrad-mixed": dict(optimizer="adagrad", weight_dtype=BF16, grad_dtype=BF16, master_dtype=FP32, state_dtype=FP32),
    "adagrad-fp32": dict(optimizer="adagrad", weight_dtype=FP32, grad_dtype=FP32, master_dtype=None, state_dtype=FP32),
    "sgd-fp32": dict(optimizer="sgd", weight_dtype=FP32, grad_dtype=FP32, master_dtype=None, state_dtype=FP32),
    "sgd-mixed": dict(optimizer="sgd", weight_dtype=BF16, grad_dtype=BF16, master_dtype=FP32, state_dtype=FP32),
}
CRUNCHER_RECIPES = {
    "mixed": dict(weight_dtype=BF16, grad_dtype=BF16, master_dtype=FP32, state_dtype=FP32, activation_dtype=BF16),
    "autocast": dict(weight_dtype=FP32, grad_dtype=FP32, master_dtype=None, state_dtype=FP32, activation_dtype=BF16),
    "fp32": dict(weight_dtype=FP32, grad_dtype=FP32, master_dtype=None, state_dtype=FP32, activation_dtype=FP32),
}


def expected(numbers: dict[str, dict]) -> dict[str, float]:
    """answer key -> the exact value, for one student's drawn numbers (questions.draw)."""
    days, fit, budget = numbers["training_days"], numbers["max_params"], numbers["budget_params"]
    stack, cruncher, step = numbers["stack_flops"], numbers["cruncher_bytes"], numbers["utilisation"]
    mfu = _step_mfu(step)
    return {
        "training_days": flops.training_days(days["params"], days["tokens"], days["gpus"], days["accelerator"][1], days["mfu"]),
        "max_params": flops.max_trainable_params(fit["memory"], fit["gpus"], accounting.bytes_per_parameter(**RECIPES[fit["recipe"]])),
        # training_days is linear in the parameters: the budget's model is the one that takes `days`.
        "budget_params": budget["days"] / flops.training_days(1, budget["tokens"], budget["gpus"], budget["accelerator"][1], budget["mfu"]),
        "stack_flops": flops.linear_stack_training_flops(stack["tokens"], [stack["w0"], stack["w1"], stack["w2"], stack["w3"]]),
        "cruncher_bytes": accounting.mixed_precision_memory(
            cruncher["dim"], cruncher["layers"], cruncher["batch"], cruncher["optimizer"], **CRUNCHER_RECIPES[cruncher["recipe"]]
        ).total,
        "mfu": mfu,
        # Recomputation runs each forward a second time: 2ND more on the model's 6ND, so the hardware does 8/6 of it.
        "hfu": mfu * 8 / 6,
    }


def _step_mfu(step: dict) -> float:
    params, tokens_per_gpu = step["model"][0] * step["scale"], step["model"][1]
    model_flops = flops.training_flops(params, tokens_per_gpu * step["gpus"])
    return flops.model_flops_utilization(model_flops, step["seconds"], 989.5e12 * step["gpus"])
