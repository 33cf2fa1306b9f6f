"""Problem 7: how much memory does training need?

Training one step of a model keeps four kinds of numbers in memory:
- the parameters themselves;
- the activations the forward pass saves for the backward pass;
- one gradient per parameter;
- the optimizer's state (e.g. AdaGrad's running sum of squared gradients).

The model is the Cruncher of problem 5: `num_layers` square (dim x dim) layers followed by
a (dim x 1) head, no biases, no activation function in between. Everything here is
arithmetic on counts: do not build the model or allocate tensors.
"""

from typing import NamedTuple

import torch


def cruncher_num_parameters(dim: int, num_layers: int) -> int:
    """Number of parameters of a Cruncher(dim, num_layers).

    A parameter is one trainable value: count the entries of every weight matrix the model
    owns, the head included (look at the shapes problem 5 gives each layer).
    Example: dim 4, 2 layers -> 36.
    """
    raise NotImplementedError("Problem 7 (accounting.cruncher_num_parameters): add up the weight matrices")


def cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int:
    """Number of activation values kept for the backward pass, as the lecture counts them.

    The backward pass of `h @ W` needs `h` to form W's gradient, so each layer's input is
    kept until the backward has used it. The lecture's convention: the input batch itself
    is data, not an activation, and a scalar-per-example output that nothing multiplies
    afterwards is not counted. Work out which tensors that leaves, and their shapes.
    Example: batch 2, dim 4, 2 layers -> 16. (The tests count what autograd really saves.)
    """
    raise NotImplementedError("Problem 7 (accounting.cruncher_num_activations): which layer inputs are kept?")


def optimizer_state_values(num_parameters: int, optimizer: str) -> int:
    """Values of optimizer state for `num_parameters` parameters.

    Count what each optimizer must remember between steps for every parameter: "sgd"
    (plain SGD: nothing), "adagrad" (a running sum of squared gradients) and "adamw" (two
    running averages, the first and second moments). Scalars such as a step counter are
    not counted. Names are matched exactly ("SGD" or "AdamW" are other names); any other
    name: raise ValueError.
    """
    raise NotImplementedError("Problem 7 (accounting.optimizer_state_values): state values per parameter")


class MemoryBreakdown(NamedTuple):
    """Bytes needed for one training step, by kind (all Python ints)."""

    parameters: int
    activations: int
    gradients: int
    optimizer_state: int
    total: int


def training_memory(
    dim: int,
    num_layers: int,
    batch_size: int,
    optimizer: str = "adagrad",
    bytes_per_value: int = 4,
) -> MemoryBreakdown:
    """Bytes of memory to train a Cruncher for one step, as a MemoryBreakdown.

    Every value (parameter, activation, gradient, state) takes `bytes_per_value` bytes;
    every parameter has a gradient of its own shape; `total` is the sum of the four other
    fields. Use the three functions above.
    """
    raise NotImplementedError("Problem 7 (accounting.training_memory): count values, then multiply by their size")


# ---------------------------------------------------------------------------------------
# Mixed precision: each kind of value has its own dtype.
#
# A common recipe keeps the weights the forward pass reads in bfloat16 (so the matmuls run
# in bfloat16), their gradients in bfloat16 (autograd gives a gradient the dtype of its
# tensor), and a float32 "master" copy of the weights that the optimizer updates (a
# bfloat16 weight loses any update smaller than half the gap to its neighbour, half an ulp:
# for a weight w, between 2**-9 and 2**-8 of |w|); the optimizer's state
# has the dtype of what it updates. torch.autocast is the other recipe: float32 weights,
# gradients and state, no master copy, and bfloat16 activations.
# How many bytes one dtype's element takes: `dtype.itemsize`.


def bytes_per_parameter(
    optimizer: str = "adamw",
    *,
    weight_dtype: torch.dtype = torch.bfloat16,
    grad_dtype: torch.dtype = torch.bfloat16,
    master_dtype: torch.dtype | None = torch.float32,
    state_dtype: torch.dtype = torch.float32,
) -> int:
    """Bytes kept for each parameter: its weight, its gradient, its master copy, its optimizer state.

    `master_dtype=None` means there is no master copy (the optimizer updates the weights
    themselves). Activations are not per parameter and are not counted here. This is the
    `bytes_per_param` of flops.max_trainable_params: work out what the defaults give, and
    what an all-float32 AdamW run without a master copy gives.
    """
    raise NotImplementedError("Problem 7 (accounting.bytes_per_parameter): add up the bytes of each kind")


class MixedPrecisionBreakdown(NamedTuple):
    """Bytes needed for one mixed-precision training step, by kind (all Python ints)."""

    parameters: int  # the weights the forward pass reads, in weight_dtype
    activations: int
    gradients: int
    master_weights: int  # 0 without a master copy
    optimizer_state: int
    total: int


def mixed_precision_memory(
    dim: int,
    num_layers: int,
    batch_size: int,
    optimizer: str = "adamw",
    *,
    weight_dtype: torch.dtype = torch.bfloat16,
    grad_dtype: torch.dtype = torch.bfloat16,
    master_dtype: torch.dtype | None = torch.float32,
    state_dtype: torch.dtype = torch.float32,
    activation_dtype: torch.dtype = torch.bfloat16,
) -> MixedPrecisionBreakdown:
    """training_memory with a dtype of its own for each kind of value, plus the master copy.

    The counts are those of the functions above; only the bytes per value change with the
    kind. With every dtype float32, no master copy and `activation_dtype=torch.float32`,
    the fields are those of training_memory (and master_weights is 0). The tests run each
    recipe for real (bfloat16 or float16 weights with a float32 master copy, autocast,
    pure float32 or bfloat16) and measure every field.
    """
    raise NotImplementedError("Problem 7 (accounting.mixed_precision_memory): counts times each kind's bytes")
