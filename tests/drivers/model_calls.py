"""Driver for problem 5: the modules built the ways scripts build them (no oracle here):
device and dtype by position, a torch.device or a string, and what Cruncher is made of."""

import torch


def built(impl, cls: str, args: list, kwargs: dict) -> dict:
    """impl.model.<cls>(*args, **kwargs): its parameters' names, shapes, dtypes and devices."""
    module = getattr(impl.model, cls)(*args, **kwargs)
    named = list(module.named_parameters())
    return {
        "names": [name for name, _ in named],
        "shapes": [tuple(p.shape) for _, p in named],
        "dtypes": sorted({str(p.dtype) for _, p in named}),
        "devices": sorted({p.device.type for _, p in named}),
    }


def cruncher_parts(impl, dim: int, num_layers: int) -> dict:
    """Whether Cruncher's layers live in an nn.ModuleList and each part is the implementation's own Linear."""
    model = impl.model.Cruncher(dim, num_layers)
    return {
        "module_list": isinstance(model.layers, torch.nn.ModuleList),
        "layers_are_own_linear": [type(layer) is impl.model.Linear for layer in model.layers],
        "head_is_own_linear": type(model.head) is impl.model.Linear,
    }
