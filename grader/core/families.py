"""Trusted side: families of slips, named in general words when no one slip can be named.

A family is a kind of input (size-1 dims, negative dims, float8_e4m3fn, grads of None, ...) with a
sentence that says where to look ("check how size-1 dims are treated"). It is named for a request
group when the submission is wrong there ONLY on requests of that kind and right on several requests
of other kinds: then the sentence points at the inputs it gets wrong, whatever its exact slip is, and
it says nothing about the slip it cannot know. A specific hint (one mutant) wins when the evidence
separates it; a family is the fallback for near misses (grader/core/hints.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

MIN_RIGHT_OUTSIDE = 3  # the submission must be right on at least this many requests outside the family


@dataclass(frozen=True)
class Family:
    name: str
    groups: tuple[str, ...]  # request groups it applies to ("*" for every group)
    applies: Callable[[tuple, Any], bool]  # (call, the reference's outcome) -> is this request of the kind?
    text: str


def _args(call: tuple) -> list:
    kind, *rest = call
    return list(rest[1]) + list(rest[2].values()) if kind == "call" else list(rest[1].values())


def _shapes(call: tuple) -> list[tuple]:
    """The shape-like arguments of a call: sequences of ints (and tensors' shapes)."""
    found = []
    for a in _args(call):
        if isinstance(a, torch.Tensor):
            found.append(tuple(a.shape))
        elif isinstance(a, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in a):
            found.append(tuple(a))
    return found


def _tensors(call: tuple) -> list[torch.Tensor]:
    return [a for a in _args(call) if isinstance(a, torch.Tensor)]


def _dtypes(call: tuple) -> set:
    return {a for a in _args(call) if isinstance(a, torch.dtype)}


def _raised(outcome) -> bool:
    return getattr(outcome, "kind", "") == "raised"


STRIDES = ("strides.contiguous_strides", "strides.is_contiguous", "strides.transpose", "strides.narrow", "strides.view", "strides.flat_offset")
NAMED = ("named_dims.pairwise_scores", "named_dims.mean_over_hidden", "named_dims.linear", "named_dims.per_head_linear")
FLOAT_CONSTANTS = ("tensors.machine_epsilon", "tensors.max_finite", "tensors.smallest_normal", "tensors.float_format", "tensors.underflows_to_zero")
RUN_OPTIMIZER = "tests.drivers.optimizers:run_optimizer"

FAMILIES = [
    Family("errors", ("*",), lambda call, ref: _raised(ref),
           "Check the inputs that must raise an error (and which exception type): your code answers where the spec says to refuse, or refuses with another type."),
    Family("e4m3fn", FLOAT_CONSTANTS, lambda call, ref: torch.float8_e4m3fn in _dtypes(call),
           "Check float8_e4m3fn: unlike the IEEE-style formats it has no infinities, so its top exponent is used differently."),
    Family("fp8-formats", FLOAT_CONSTANTS, lambda call, ref: bool(_dtypes(call) & {torch.float8_e4m3fn, torch.float8_e5m2}),
           "Check the two float8 formats: your answers for the 16-, 32- and 64-bit formats are right."),
    Family("underflow-specials", ("tensors.underflows_to_zero",),
           lambda call, ref: isinstance(_args(call)[0], float) and (_args(call)[0] == 0 or not math.isfinite(_args(call)[0])),
           "Check what underflows_to_zero says for 0, infinities and NaN (they are not non-zero finite values)."),
    Family("non-float-dtypes", ("tensors.bytes_per_element", "tensors.tensor_num_bytes"),
           lambda call, ref: any(not d.is_floating_point for d in _dtypes(call)),
           "Check the integer and bool dtypes: your sizes of the float dtypes are right."),
    Family("scalar-or-empty-shape", ("tensors.tensor_num_bytes",), lambda call, ref: any(s == () or 0 in s for s in _shapes(call)),
           "Check 0-d shapes and shapes with a 0 in them: how many elements do they hold?"),
    Family("no-non-zero", ("tensors.fp8_scale", "tensors.quantize_fp8"),
           lambda call, ref: any(t.numel() == 0 or not bool(t.ne(0).any()) for t in _tensors(call)),
           "Check tensors with no non-zero value (all zeros, or empty)."),
    Family("size-0-dims", STRIDES, lambda call, ref: any(0 in s for s in _shapes(call)),
           "Check how size-0 dims (empty tensors) are treated."),
    Family("size-1-dims", STRIDES, lambda call, ref: any(1 in s for s in _shapes(call)),
           "Check how size-1 dims are treated."),
    Family("0-d", STRIDES, lambda call, ref: any(s == () for s in _shapes(call)),
           "Check 0-d layouts (shape ())."),
    Family("negative-dims", ("strides.transpose", "strides.narrow"),
           lambda call, ref: any(isinstance(a, int) and not isinstance(a, bool) and a < 0 for a in _args(call)),
           "Check negative dims (and negative starts): they count from the end."),
    Family("minus-one", ("strides.view",), lambda call, ref: any(-1 in s for s in _shapes(call)),
           "Check how a -1 in the new shape is inferred."),
    Family("low-precision", NAMED, lambda call, ref: any(t.dtype in (torch.float16, torch.bfloat16) for t in _tensors(call)),
           "Check float16 and bfloat16 inputs: the result keeps the input's dtype."),
    Family("no-batch-dims", NAMED, lambda call, ref: any(t.dim() <= 1 for t in _tensors(call)[:1]),
           "Check inputs with no leading batch dims."),
    Family("empty-axes", NAMED, lambda call, ref: any(t.numel() == 0 for t in _tensors(call)),
           "Check inputs with an empty axis."),
    Family("zero-sizes", ("flops.matmul_flops", "flops.linear_forward_flops", "flops.linear_backward_flops", "flops.linear_stack_training_flops"),
           lambda call, ref: any(a == 0 for a in _args(call) if isinstance(a, int)) or any(0 in s for s in _shapes(call)),
           "Check sizes of 0."),
    Family("no-input-grad", ("flops.linear_backward_flops",), lambda call, ref: False in _args(call),
           "Check the case input_requires_grad=False: which gradient is then not computed?"),
    Family("short-stacks", ("flops.linear_stack_training_flops",), lambda call, ref: any(len(s) < 3 for s in _shapes(call)),
           "Check stacks of fewer than two layers (fewer than three widths)."),
    Family("grads-of-none", (RUN_OPTIMIZER,), lambda call, ref: any(g is None for row in call[2].get("grads", []) for g in row),
           "Check parameters whose grad is None at some steps: they are skipped entirely."),
    Family("param-groups", (RUN_OPTIMIZER,), lambda call, ref: call[2].get("groups") is not None,
           "Check param groups: each group's own hyperparameters, read inside step()."),
    Family("state-dict", (RUN_OPTIMIZER,), lambda call, ref: call[2].get("save_at") is not None,
           "Check state_dict() and load_state_dict(): all state in self.state[p], nothing kept on self."),
    Family("no-hidden-layers", ("accounting.cruncher_num_parameters", "accounting.cruncher_num_activations", "accounting.training_memory"),
           lambda call, ref: 0 in [a for a in _args(call)[:3] if isinstance(a, int)],
           "Check a Cruncher with no hidden layers (num_layers = 0)."),
    Family("no-master-copy", ("accounting.bytes_per_parameter", "accounting.mixed_precision_memory"),
           lambda call, ref: "master_dtype" in call[3] and call[3]["master_dtype"] is None,
           "Check master_dtype=None: then there is no master copy."),
]


def families_for(group: str) -> list[Family]:
    return [f for f in FAMILIES if "*" in f.groups or group in f.groups]
