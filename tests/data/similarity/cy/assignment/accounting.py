"""cy: memory accounting as a small calculator object."""

from dataclasses import astuple, dataclass
from typing import NamedTuple


class MemoryBreakdown(NamedTuple):
    parameters: int
    activations: int
    gradients: int
    optimizer_state: int
    total: int


@dataclass
class _Counts:
    dim: int
    layers: int
    batch: int

    def params(self):
        return self.layers * self.dim * self.dim + self.dim * 1

    def acts(self):
        return self.batch * self.layers * self.dim


def cruncher_num_parameters(dim, num_layers):
    return _Counts(dim, num_layers, 0).params()


def cruncher_num_activations(batch_size, dim, num_layers):
    return _Counts(dim, num_layers, batch_size).acts()


def optimizer_state_values(num_parameters, optimizer):
    for name, slots in (("sgd", 0), ("adagrad", 1), ("adamw", 2)):
        if optimizer == name:
            return slots * num_parameters
    raise ValueError(optimizer)


def training_memory(dim, num_layers, batch_size, optimizer="adagrad", bytes_per_value=4):
    counts = _Counts(dim, num_layers, batch_size)
    values = [counts.params(), counts.acts(), counts.params(), optimizer_state_values(counts.params(), optimizer)]
    total = 0
    out = []
    for v in values:
        out.append(v * bytes_per_value)
        total = total + v * bytes_per_value
    return MemoryBreakdown(out[0], out[1], out[2], out[3], total)
