"""Trusted PyTorch oracles for problem 7 (accounting): never in the worker, never shipped.

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

from typing import NamedTuple

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


# --- mixed precision ----------------------------------------------------------------
#
# A recipe says which dtype each kind of value has. The oracle below runs it for real:
# the net's weights (and so its gradients) in `weight`, the forward under
# torch.autocast(activation) when that differs from `weight`, an optional master copy in
# `master` that the torch.optim optimizer updates (its state then has the master's dtype,
# else the weights'). Recipes are what PyTorch can actually run.


class Recipe(NamedTuple):
    weight: torch.dtype
    master: torch.dtype | None
    activation: torch.dtype

    @property
    def state(self) -> torch.dtype:
        """torch.optim keeps state in the dtype of the parameters it updates."""
        return self.master or self.weight

    def dtypes(self) -> dict:
        """The keyword arguments of bytes_per_parameter (gradients have their weights' dtype)."""
        return {"weight_dtype": self.weight, "grad_dtype": self.weight, "master_dtype": self.master,
                "state_dtype": self.state}


RECIPES = {
    "fp32": Recipe(torch.float32, None, torch.float32),
    "fp64": Recipe(torch.float64, None, torch.float64),
    "pure_bf16": Recipe(torch.bfloat16, None, torch.bfloat16),
    "bf16_fp32_master": Recipe(torch.bfloat16, torch.float32, torch.bfloat16),
    "fp16_fp32_master": Recipe(torch.float16, torch.float32, torch.float16),
    "autocast_bf16": Recipe(torch.float32, None, torch.bfloat16),
    "autocast_fp16": Recipe(torch.float32, None, torch.float16),
}

# Autograd nodes that only cast or re-lay-out one tensor: what autocast does to a weight.
_LAYOUT_NODES = {"TBackward0", "ToCopyBackward0", "TransposeBackward0", "PermuteBackward0", "ViewBackward0"}


def _is_weight_derived(t: torch.Tensor) -> bool:
    """A parameter, or a cast/transpose of one (autocast saves bf16 copies of the weights)."""
    if not t.requires_grad:
        return False  # the data and its casts: no gradient flows to them
    node = t.grad_fn
    while node is not None and type(node).__name__ in _LAYOUT_NODES:
        inputs = [n for n, _ in node.next_functions if n is not None]
        node = inputs[0] if len(inputs) == 1 else None
    return t.grad_fn is None or type(node).__name__ == "AccumulateGrad"


def torch_mixed_precision_step(batch_size: int, dim: int, num_layers: int, optimizer: str, recipe: Recipe) -> dict:
    """Bytes by kind after one real forward/backward/step of `recipe` on the Cruncher's shape.

    Activations are the saved tensors that are neither weight-derived nor the data (or its
    cast): the lecture counts the batch as data, as torch_saved_values does.
    """
    net = deep_linear_net(dim, num_layers, recipe.weight)
    x = torch.randn(batch_size, dim, generator=torch.Generator().manual_seed(7)).to(recipe.weight)
    saved = {}

    def pack(t):
        if not _is_weight_derived(t) and t.requires_grad:  # no grad: the input batch or a cast of it
            saved[(t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)] = t
        return t

    autocast = torch.autocast("cpu", dtype=recipe.activation, enabled=recipe.activation != recipe.weight)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast:
        loss = forward(net, x).float().sum()
    loss.backward()
    weights = list(net.parameters())
    masters = [w.detach().to(recipe.master).requires_grad_() for w in weights] if recipe.master else weights
    for w, m in zip(weights, masters):
        if m is not w:
            m.grad = w.grad.to(recipe.master)  # a transient copy: real recipes fuse it into the step
    _, state_bytes = torch_state_values(optimizer, None, params=masters)
    return {
        "parameters": sum(w.numel() * w.element_size() for w in weights),
        "activations": sum(t.numel() * t.element_size() for t in saved.values()),
        "gradients": sum(w.grad.numel() * w.grad.element_size() for w in weights),
        "master_weights": sum(m.numel() * m.element_size() for m in masters) if recipe.master else 0,
        "optimizer_state": state_bytes,
        "activation_dtypes": sorted({str(t.dtype) for t in saved.values()}),
    }


def cuda_mixed_precision_allocations(batch_size: int, dim: int, num_layers: int, optimizer: str, recipe: Recipe) -> dict:
    """The same step on CUDA, each kind measured as a change of torch.cuda.memory_allocated.

    For recipes without autocast, and sizes whose tensors are multiples of the caching
    allocator's 512-byte blocks. Activations are what the backward frees: it allocates the
    gradients and releases every saved tensor (the input batch is held here, so it is not).
    """
    assert recipe.activation == recipe.weight, "autocast's weight copies would be freed with the activations"

    def allocated() -> int:
        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()

    x = torch.randn(batch_size, dim, device="cuda").to(recipe.weight)
    warm = deep_linear_net(dim, 1, recipe.weight).to("cuda")  # cuBLAS allocates its workspace once
    forward(warm, x).float().sum().backward()
    del warm
    start = allocated()
    net = deep_linear_net(dim, num_layers, recipe.weight).to("cuda")
    weights = list(net.parameters())
    after_weights = allocated()
    loss = forward(net, x).float().sum()
    after_forward = allocated()
    loss.backward()
    after_backward = allocated()
    gradients = sum(w.grad.untyped_storage().nbytes() for w in weights)
    masters = [w.detach().to(recipe.master).requires_grad_() for w in weights] if recipe.master else weights
    after_masters = allocated()
    for w, m in zip(weights, masters):
        if m is not w:
            m.grad = w.grad.to(recipe.master)
    opt = TORCH_OPTIMIZERS[optimizer](masters, lr=0.1)
    before_step = allocated()
    opt.step()
    after_step = allocated()
    return {
        "parameters": after_weights - start,
        "activations": gradients - (after_backward - after_forward),
        "gradients": gradients,
        "master_weights": after_masters - after_backward,
        "optimizer_state": after_step - before_step,
    }
