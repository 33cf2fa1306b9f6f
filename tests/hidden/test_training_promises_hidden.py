"""Problem 8 (hidden): the training code called the ways scripts call it: a checkpoint path that is a
pathlib.Path, a loss that is an nn.Module or a lambda, a real open file for save and load, a device
given as a torch.device, and runs of zero steps. The expected values come from tests/oracles/training.py
(PyTorch alone, the same seeded models and batches the drivers build); a checkpoint's bytes are read back
by a driver the grader runs in a fresh process."""

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.drivers import training as drivers
from tests.drivers import training_calls as calls
from tests.oracles import training as oracles

pytestmark = pytest.mark.training


def last_checkpoint(start_step: int, num_steps: int, every: int):
    saves = [s + 1 for s in range(start_step, num_steps) if every > 0 and (s + 1) % every == 0]
    return saves[-1] if saves else None


@settings(max_examples=8)
@given(path_kind=st.sampled_from(["str", "pathlike"]), loss_kind=st.sampled_from(["function", "module", "lambda"]),
       start_step=st.integers(0, 3), more=st.integers(0, 4), every=st.integers(0, 3), seed=st.integers(0, 50))
@example(path_kind="pathlike", loss_kind="module", start_step=0, more=4, every=2, seed=0)
@example(path_kind="pathlike", loss_kind="lambda", start_step=2, more=3, every=1, seed=1)
@example(path_kind="str", loss_kind="function", start_step=3, more=0, every=1, seed=2).via("nothing to run")
def test_train_with_pathlike_paths_and_any_loss(impl, path_kind, loss_kind, start_step, more, every, seed):
    """checkpoint_path may be a str or an os.PathLike, loss_fn any callable (a function, an nn.Module, a lambda); start_step == num_steps runs nothing."""
    num_steps = start_step + more
    got = impl.run(calls.train_with, seed=seed, num_steps=num_steps, start_step=start_step, every=every,
                   path_kind=path_kind, loss_kind=loss_kind)
    want = oracles.torch_train("sgd", num_steps, seed, seed, start_step=start_step)
    assert got["loss_types"] == want["loss_types"]
    torch.testing.assert_close(got["losses"], want["losses"])
    for p, q in zip(got["params"], want["params"], strict=True):
        torch.testing.assert_close(p, q)
    saved_at = last_checkpoint(start_step, num_steps, every)
    assert (got["checkpoint"] is None) == (saved_at is None)
    if saved_at is not None:  # the file's iteration, read back by load_checkpoint in a fresh process
        loaded = impl.run(drivers.checkpoint_load, optimizer="sgd", target=path_kind, checkpoint=got["checkpoint"])
        assert loaded["iteration"] == saved_at


def test_checkpoint_through_real_open_files(impl):
    """`out` and `src` may be open binary files (open(path, "wb") / open(path, "rb")), not only paths or BytesIO."""
    saved = impl.run(calls.save_into_open_file, seed=4, iteration=9)
    got = impl.run(calls.load_from_open_file, checkpoint=saved["checkpoint"])
    want = oracles.saved_checkpoint("sgd", 4)
    assert got["iteration"] == 9
    for p, q in zip(got["params"] + got["state"], want["params"] + want["state"], strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["uint16", "int64"])
def test_get_batch_with_a_torch_device(impl, dtype):
    """`device` may be a torch.device as well as a string; rows are windows and their next tokens, int64."""
    data = (np.arange(40) * 3 % 997).astype(dtype)
    got = impl.run(calls.batch_on_device_object, data=data, batch_size=5, context_length=6, generator_seed=2)
    assert got["dtypes"] == ["torch.int64"] * 2 and got["devices"] == ["cpu", "cpu"]
    windows = {tuple(int(v) for v in data[s:s + 7]) for s in range(len(data) - 6)}
    for x, y in zip(got["x"].tolist(), got["y"].tolist()):
        assert tuple(x) + (y[-1],) in windows and x[1:] == y[:-1]


def test_checkpoint_every_defaults_to_no_checkpoints(impl):
    """checkpoint_every defaults to 0: a path alone saves nothing (saving needs checkpoint_every > 0)."""
    assert impl.run(calls.train_with_path_only, seed=3, num_steps=4) == {"num_losses": 4, "file": False}


@pytest.mark.parametrize("batch_size, context_length", [(0, 3), (3, 0), (-1, 2)])
def test_get_batch_refuses_sizes_of_zero(impl, batch_size, context_length):
    """'a size <= 0: ValueError': zero counts, for the batch size and for the context length."""
    x, y = impl.training.get_batch(np.arange(20, dtype=np.int64), 2, 3, "cpu")  # the refusal pays only where a batch works
    assert tuple(x.shape) == tuple(y.shape) == (2, 3) and bool(((y - x) == 1).all())
    with pytest.raises(ValueError):
        impl.training.get_batch(np.arange(20, dtype=np.int64), batch_size, context_length, "cpu")
