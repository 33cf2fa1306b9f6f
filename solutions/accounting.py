"""Memory accounting for training the Cruncher (reference solution, problem 7).

Everything here is arithmetic on counts: nothing is allocated. The numbers follow the
lecture's convention: parameters, gradients and optimizer state are counted per
parameter, activations as the output of each of the `num_layers` square layers.
"""

from typing import NamedTuple

import torch

# Values of optimizer state kept per parameter: SGD keeps nothing, AdaGrad the running
# sum of squared gradients, AdamW the first and second moments.
_STATE_VALUES_PER_PARAMETER = {"sgd": 0, "adagrad": 1, "adamw": 2}


def cruncher_num_parameters(dim: int, num_layers: int) -> int:
    """`num_layers` square (dim x dim) weights plus the (dim x 1) head."""
    return dim * dim * num_layers + dim


def cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int:
    """One (batch_size x dim) output per square layer, kept for the backward pass."""
    return batch_size * dim * num_layers


def optimizer_state_values(num_parameters: int, optimizer: str) -> int:
    """Values of state the optimizer keeps for `num_parameters` parameters."""
    if optimizer not in _STATE_VALUES_PER_PARAMETER:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; expected one of {sorted(_STATE_VALUES_PER_PARAMETER)}"
        )
    return _STATE_VALUES_PER_PARAMETER[optimizer] * num_parameters


class MemoryBreakdown(NamedTuple):
    """Bytes needed for one training step, by kind."""

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
    """Bytes of parameters, activations, gradients (one per parameter) and optimizer state."""
    num_parameters = cruncher_num_parameters(dim, num_layers)
    parameters = num_parameters * bytes_per_value
    activations = cruncher_num_activations(batch_size, dim, num_layers) * bytes_per_value
    gradients = num_parameters * bytes_per_value  # one gradient per parameter
    optimizer_state = optimizer_state_values(num_parameters, optimizer) * bytes_per_value
    total = parameters + activations + gradients + optimizer_state
    return MemoryBreakdown(parameters, activations, gradients, optimizer_state, total)


class MixedPrecisionBreakdown(NamedTuple):
    """Bytes needed for one mixed-precision training step, by kind."""

    parameters: int
    activations: int
    gradients: int
    master_weights: int
    optimizer_state: int
    total: int


def _bytes(dtype: torch.dtype | None) -> int:
    return 0 if dtype is None else dtype.itemsize  # no master copy: no bytes


def bytes_per_parameter(
    optimizer: str = "adamw",
    *,
    weight_dtype: torch.dtype = torch.bfloat16,
    grad_dtype: torch.dtype = torch.bfloat16,
    master_dtype: torch.dtype | None = torch.float32,
    state_dtype: torch.dtype = torch.float32,
) -> int:
    """The weight, its gradient, its master copy and its optimizer state, per parameter."""
    state = optimizer_state_values(1, optimizer) * _bytes(state_dtype)
    return _bytes(weight_dtype) + _bytes(grad_dtype) + _bytes(master_dtype) + state


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
    """training_memory with one dtype per kind of value, and a master copy of the weights."""
    num_parameters = cruncher_num_parameters(dim, num_layers)
    parameters = num_parameters * _bytes(weight_dtype)
    activations = cruncher_num_activations(batch_size, dim, num_layers) * _bytes(activation_dtype)
    gradients = num_parameters * _bytes(grad_dtype)
    master_weights = num_parameters * _bytes(master_dtype)
    optimizer_state = optimizer_state_values(num_parameters, optimizer) * _bytes(state_dtype)
    total = parameters + activations + gradients + master_weights + optimizer_state
    return MixedPrecisionBreakdown(parameters, activations, gradients, master_weights, optimizer_state, total)
