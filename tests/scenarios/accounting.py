"""Trusted PyTorch oracles for problem 7 (accounting).

Accounting's functions take and return plain numbers, so the tests call them directly;
these helpers measure the same quantities on a real network instead: a Cruncher-like deep
linear net made of torch.nn.Linear layers (never the submission's model), a real backward
watched through torch.autograd.graph.saved_tensors_hooks, and real torch.optim state.

What the real graph saves, per x @ W (mm): the left input (to form W's gradient) and, when
the input needs a gradient, W (to form the input's). For `num_layers` square layers and the
head that is the batch x, the outputs h_1..h_L of the square layers, and every weight but
the first (x needs no gradient, so W_1 is not kept). Counting only non-parameter values,
the graph keeps B*dim*(L + 1): the lecture's B*dim*L activations (one output per layer)
plus the input batch itself, which the lecture counts as data, not as an activation.
"""

import torch
from torch import nn

TORCH_OPTIMIZERS = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "adamw": torch.optim.AdamW}
DTYPE_OF_BYTES = {2: torch.bfloat16, 4: torch.float32, 8: torch.float64}


def deep_linear_net(dim: int, num_layers: int, dtype=torch.float32) -> nn.ModuleDict:
    """The Cruncher's shape: `num_layers` dim x dim layers, a dim x 1 head, no bias, no activation."""
    g = torch.Generator().manual_seed(dim * 1000 + num_layers)
    net = nn.ModuleDict(
        {
            "layers": nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(num_layers)),
            "head": nn.Linear(dim, 1, bias=False),
        }
    ).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / dim**0.5)
    return net


def forward(net: nn.ModuleDict, x: torch.Tensor) -> torch.Tensor:
    for layer in net["layers"]:
        x = layer(x)
    return net["head"](x).squeeze(-1)


def torch_num_parameters(dim: int, num_layers: int) -> int:
    return sum(p.numel() for p in deep_linear_net(dim, num_layers).parameters())


def torch_saved_values(batch_size: int, dim: int, num_layers: int, dtype=torch.float32) -> dict:
    """Run one forward/backward and count what autograd saved for the backward.

    Returns element counts (and bytes) of saved non-parameter tensors, of the input batch
    among them, of parameters, and of gradients. The loss is a sum, which saves nothing.
    """
    net = deep_linear_net(dim, num_layers, dtype)
    param_storages = {p.untyped_storage().data_ptr() for p in net.parameters()}
    x = torch.randn(batch_size, dim, generator=torch.Generator().manual_seed(7)).to(dtype)
    seen, activations = set(), []

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if t.untyped_storage().data_ptr() not in param_storages and key not in seen:
            seen.add(key)
            activations.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = forward(net, x).sum()
    loss.backward()
    input_saved = any(t.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() for t in activations)
    return {
        "activations": sum(t.numel() for t in activations),
        "activation_bytes": sum(t.numel() * t.element_size() for t in activations),
        "input": x.numel() if input_saved else 0,
        "input_bytes": x.numel() * x.element_size() if input_saved else 0,
        "parameters": sum(p.numel() for p in net.parameters()),
        "parameter_bytes": sum(p.numel() * p.element_size() for p in net.parameters()),
        "gradient_bytes": sum(p.grad.numel() * p.grad.element_size() for p in net.parameters()),
    }


def torch_state_values(optimizer: str, shapes, dtype=torch.float32, params=None) -> tuple[int, int]:
    """(values, bytes) of per-parameter optimizer state after one real torch.optim step.

    Only tensors of a parameter's own shape count: Adagrad's and AdamW's scalar `step`
    is bookkeeping, not state that grows with the model, and the lecture leaves it out
    (it is skipped by name too, for scalar parameters whose shape it shares).
    """
    if params is None:
        params = [torch.zeros(shape, dtype=dtype, requires_grad=True) for shape in shapes]
    if not params:
        return 0, 0  # torch.optim refuses an empty parameter list
    opt = TORCH_OPTIMIZERS[optimizer](params, lr=0.1)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    values = nbytes = 0
    for p in params:
        for key, value in opt.state[p].items():
            if key != "step" and torch.is_tensor(value) and value.shape == p.shape:
                values += value.numel()
                nbytes += value.numel() * value.element_size()
    return values, nbytes
