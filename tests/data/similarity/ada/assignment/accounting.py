"""Memory accounting, written with a table of per-kind byte counts."""

from collections import namedtuple

MemoryBreakdown = namedtuple("MemoryBreakdown", "parameters activations gradients optimizer_state total")


def cruncher_num_parameters(dim, num_layers):
    square = 0
    for _ in range(num_layers):
        square += dim ** 2
    head = dim
    return square + head


def cruncher_num_activations(batch_size, dim, num_layers):
    per_layer = batch_size * dim
    return sum(per_layer for _ in range(num_layers))


def optimizer_state_values(num_parameters, optimizer):
    name = optimizer.lower()
    if name == "sgd":
        copies = 0
    elif name == "adagrad":
        copies = 1
    elif name == "adamw":
        copies = 2
    else:
        raise ValueError("no such optimizer: " + str(optimizer))
    return copies * num_parameters


def training_memory(dim, num_layers, batch_size, optimizer="adagrad", bytes_per_value=4):
    n = cruncher_num_parameters(dim, num_layers)
    counts = {
        "parameters": n,
        "activations": cruncher_num_activations(batch_size, dim, num_layers),
        "gradients": n,
        "optimizer_state": optimizer_state_values(n, optimizer),
    }
    sizes = {kind: count * bytes_per_value for kind, count in counts.items()}
    sizes["total"] = sum(sizes.values())
    return MemoryBreakdown(**sizes)
