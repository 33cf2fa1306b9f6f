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


def cruncher_num_parameters(dim: int, num_layers: int) -> int:
    """Number of parameters of a Cruncher(dim, num_layers).

    Count every weight matrix, the head included. Example: dim 4, 2 layers -> 36.
    """
    raise NotImplementedError("Problem 7 (accounting.cruncher_num_parameters): add up the weight matrices")


def cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int:
    """Number of activation values kept for the backward pass, as the lecture counts them.

    Each square layer produces a (batch_size x dim) output, and the backward pass needs it
    (it is the next layer's input, from which that layer's weight gradient is computed).
    Count one such output per square layer; the input batch itself is data, not an
    activation, and the head's (batch_size x 1) output is not counted.
    Example: batch 2, dim 4, 2 layers -> 16.
    """
    raise NotImplementedError("Problem 7 (accounting.cruncher_num_activations): one output per layer")


def optimizer_state_values(num_parameters: int, optimizer: str) -> int:
    """Values of optimizer state for `num_parameters` parameters.

    "sgd" keeps no state, "adagrad" one value per parameter (the running sum of squared
    gradients), "adamw" two (first and second moments). Scalars such as a step counter
    are not counted. Any other name: raise ValueError.
    Example: optimizer_state_values(36, "adamw") == 72.
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
    there is one gradient per parameter; `total` is the sum of the four other fields.
    Use the three functions above. Example: dim 4, 2 layers, batch 2, AdaGrad, float32
    (4 bytes) -> MemoryBreakdown(144, 64, 144, 144, 496).
    """
    raise NotImplementedError("Problem 7 (accounting.training_memory): count values, then multiply by their size")
