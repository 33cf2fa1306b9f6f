"""Problem 7, handed to PyTorch: a Cruncher on meta tensors counts parameters, saved_tensors_hooks the activations, torch.optim the state (test data: delegating)."""

from __future__ import annotations

from typing import NamedTuple

import torch

_STATE_PER_PARAM = {"sgd": 0, "adagrad": 1, "adamw": 2}


def _stand_in(dim: int, num_layers: int) -> torch.nn.Module:
    """The Cruncher's shapes as bias-free nn.Linear layers on the meta device (no memory, no init)."""
    layers = [torch.nn.Linear(dim, dim, bias=False, device="meta") for _ in range(num_layers)]
    return torch.nn.Sequential(*layers, torch.nn.Linear(dim, 1, bias=False, device="meta"))


def cruncher_num_parameters(dim: int, num_layers: int) -> int:
    return sum(p.numel() for p in _stand_in(dim, num_layers).parameters())


def cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int:
    model = _stand_in(dim, num_layers)
    data = torch.empty(batch_size, dim, device="meta")
    params = {id(p) for p in model.parameters()}
    saved = []

    def pack(tensor):
        weight = id(tensor) in params or (tensor._base is not None and id(tensor._base) in params)
        if not weight and tensor is not data:
            saved.append(tensor.numel())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(data)
    return sum(saved)


def optimizer_state_values(num_parameters: int, optimizer: str) -> int:
    classes = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "adamw": torch.optim.AdamW}
    if optimizer not in classes:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    p = torch.nn.Parameter(torch.zeros(3))
    opt = classes[optimizer]([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    per_param = sum(v.numel() for v in opt.state[p].values() if isinstance(v, torch.Tensor) and v.shape == p.shape) // 3
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
