"""Problem 7: memory accounting for the Cruncher."""

from __future__ import annotations

from typing import NamedTuple

from .model import Cruncher  # noqa: F401  (documents what is being counted)

_STATE_PER_PARAM = {"sgd": 0, "adagrad": 1, "adamw": 2}


def cruncher_num_parameters(dim: int, num_layers: int) -> int:
    hidden = num_layers * dim * dim
    head = dim * 1
    return hidden + head


def cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int:
    return batch_size * dim * num_layers


def optimizer_state_values(num_parameters: int, optimizer: str) -> int:
    try:
        per_param = _STATE_PER_PARAM[optimizer]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {sorted(_STATE_PER_PARAM)}") from None
    return per_param * num_parameters


class MemoryBreakdown(NamedTuple):
    parameters: int
    activations: int
    gradients: int
    optimizer_state: int
    total: int


def training_memory(
    dim: int, num_layers: int, batch_size: int, optimizer: str = "adagrad", bytes_per_value: int = 4
) -> MemoryBreakdown:
    n = cruncher_num_parameters(dim, num_layers)
    parts = [
        n,  # parameters
        cruncher_num_activations(batch_size, dim, num_layers),  # activations
        n,  # gradients
        optimizer_state_values(n, optimizer),  # optimizer state
    ]
    in_bytes = [v * bytes_per_value for v in parts]
    return MemoryBreakdown(*in_bytes, sum(in_bytes))


# --- mixed precision: one dtype per kind of value -----------------------------------

import torch  # noqa: E402


def _width(dtype) -> int:
    if dtype is None:
        return 0
    return torch.empty((), dtype=dtype).element_size()


def bytes_per_parameter(
    optimizer: str = "adamw",
    *,
    weight_dtype: torch.dtype = torch.bfloat16,
    grad_dtype: torch.dtype = torch.bfloat16,
    master_dtype: torch.dtype | None = torch.float32,
    state_dtype: torch.dtype = torch.float32,
) -> int:
    per = mixed_precision_memory(0, 0, 0, optimizer, weight_dtype=weight_dtype, grad_dtype=grad_dtype,
                                 master_dtype=master_dtype, state_dtype=state_dtype)
    del per  # validates the optimizer name the same way
    return (_width(weight_dtype) + _width(grad_dtype) + _width(master_dtype)
            + _STATE_PER_PARAM[optimizer] * _width(state_dtype))


class MixedPrecisionBreakdown(NamedTuple):
    parameters: int
    activations: int
    gradients: int
    master_weights: int
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
    n = cruncher_num_parameters(dim, num_layers)
    sized = [
        (n, weight_dtype),
        (cruncher_num_activations(batch_size, dim, num_layers), activation_dtype),
        (n, grad_dtype),
        (n, master_dtype),
        (optimizer_state_values(n, optimizer), state_dtype),
    ]
    in_bytes = [count * _width(dtype) for count, dtype in sized]
    return MixedPrecisionBreakdown(*in_bytes, sum(in_bytes))
