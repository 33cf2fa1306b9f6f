"""Problem 7, bo's version: one helper per quantity, bytes at the end."""

from typing import NamedTuple


class MemoryBreakdown(NamedTuple):
    parameters: int
    activations: int
    gradients: int
    optimizer_state: int
    total: int


_MOMENTS = dict(sgd=0, adagrad=1, adamw=2)


def cruncher_num_parameters(dim: int, num_layers: int) -> int:
    return dim * (dim * num_layers + 1)


def cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int:
    return num_layers * dim * batch_size


def optimizer_state_values(num_parameters: int, optimizer: str) -> int:
    try:
        per_param = _MOMENTS[optimizer]
    except KeyError:
        raise ValueError(f"optimizer must be one of {list(_MOMENTS)}, got {optimizer}") from None
    return num_parameters * per_param


def _bytes(values: int, width: int) -> int:
    return int(values) * int(width)


def training_memory(dim, num_layers, batch_size, optimizer="adagrad", bytes_per_value=4):
    p = cruncher_num_parameters(dim, num_layers)
    a = cruncher_num_activations(batch_size, dim, num_layers)
    s = optimizer_state_values(p, optimizer)
    parts = [_bytes(v, bytes_per_value) for v in (p, a, p, s)]
    return MemoryBreakdown(*parts, sum(parts))
