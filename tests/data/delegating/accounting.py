# Appended to the correct example's module by grader/core/variants.py (build_delegating):
# Problem 7 handed to PyTorch: meta nn.Linear stand-ins, saved_tensors_hooks, stepping torch.optim optimizers.

import torch


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
