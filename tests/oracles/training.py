"""Trusted expectations for problem 8: the same runs as the drivers', done with PyTorch alone.

Never loaded into the worker (the zygote preloads tests/drivers only) and never shipped to
students: `_torch_step` is what train_step must do. The models, optimizers and batches are
the drivers' own (tests/drivers/training.py), built here, in the test's process.
"""

import random

import numpy as np
import torch
from torch.nn import functional as F

from tests.drivers.training import (
    checkpoint_source,
    make_batch_fn,
    make_model,
    make_optimizer,
    optimizer_state,
    params_of,
    run_steps,
)


def seeded_draws(seed: int, device: str = "cpu") -> dict:
    """What drivers.training.seed_draws should see after set_seed(seed): the draws of Python's,
    NumPy's and PyTorch's generators seeded with `seed` (the same draws every time is the
    spec; these are the ones seeding each library with the seed gives)."""
    python = random.Random(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    return {
        "random": [python.random() for _ in range(3)],
        "numpy": np.random.RandomState(seed).random_sample(3).tolist(),
        "torch": torch.rand(3, generator=generator, device=device).cpu().tolist(),
    }


def _torch_step(model, optimizer, x, y, loss_fn, autocast_dtype=None) -> float:
    """One training step written with PyTorch alone."""
    optimizer.zero_grad()
    with torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def torch_train_steps(optimizer: str, steps: int, seed: int, autocast_dtype=None, device: str = "cpu") -> dict:
    """What drivers.training.train_steps should return."""
    return run_steps(_torch_step, optimizer, steps, seed, autocast_dtype, device)


def torch_train(optimizer: str, num_steps: int, init_seed: int, data_seed: int, start_step: int = 0) -> dict:
    """Steps start_step .. num_steps - 1 from make_model(init_seed) on make_batch_fn(data_seed):
    their losses, and the weights and optimizer state after them."""
    model = make_model(init_seed)
    opt = make_optimizer(optimizer, model)
    batch_fn = make_batch_fn(data_seed)
    losses = [_torch_step(model, opt, *batch_fn(step), F.mse_loss) for step in range(start_step, num_steps)]
    return {"losses": losses, "loss_types": ["float"] * len(losses), "params": params_of(model),
            "state": optimizer_state(opt)}


def torch_train_losses(optimizer: str, num_steps: int, seed: int) -> dict:
    """What drivers.training.train_losses should return."""
    return torch_train(optimizer, num_steps, seed, seed)


def saved_checkpoint(optimizer: str, seed: int) -> dict:
    """What drivers.training.checkpoint_load should find: the source checkpoint_save saved."""
    model, opt = checkpoint_source(optimizer, seed)
    return {"params": params_of(model), "state": optimizer_state(opt), "lr": [group["lr"] for group in opt.param_groups]}
