"""Public tests for problem 8: data, the training loop, checkpoints (assignment/training.py).

Live objects (models, optimizers, memmaps, checkpoint files) are built by the drivers in
tests/drivers/training.py from plain torch.nn modules and torch.optim optimizers, so
these tests do not depend on your answers to problems 5 and 6. What a plain PyTorch loop
gives on the same model and batches is shipped as numbers (tests/public/expected_values.json).
"""

import numpy as np
import pytest
import torch

from tests.drivers import training as drivers

pytestmark = pytest.mark.training


def test_set_seed_reseeds_random_numpy_and_torch(impl, expected_values):
    """set_seed must seed Python's random, NumPy's global generator and torch: same seed, same draws."""
    first, again, other = impl.run(drivers.seed_draws, seeds=[7, 7, 8])
    for source in ("random", "numpy", "torch"):
        assert first[source] == again[source], (
            f"after set_seed(7) twice, {source} drew {first[source]} then {again[source]}; "
            f"hint: seed {source} inside set_seed"
        )
        assert first[source] != other[source], (
            f"set_seed(7) and set_seed(8) gave the same {source} draws {first[source]}; hint: pass the seed on"
        )
        for seed, draws in ((7, first), (8, other)):
            want = expected_values["training.seed_draws"][str(seed)][source]  # that library seeded with `seed`
            assert draws[source] == want, (
                f"after set_seed({seed}), {source} drew {draws[source]}; seeded with {seed} it draws {want}. "
                f"Hint: seed {source}'s global generator with the seed itself"
            )


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_set_seed_rejects_out_of_range(impl, expected_values, seed):
    """Seeds must satisfy 0 <= seed < 2**32; raise ValueError otherwise. A refusal pays only where valid seeds work."""
    with pytest.raises(ValueError):
        impl.run(drivers.seed_draws, seeds=[seed])
    first, again = impl.run(drivers.seed_draws, seeds=[2**32 - 1, 2**32 - 1])
    want = expected_values["training.seed_draws"][str(2**32 - 1)]  # each library seeded with 2**32 - 1
    assert first == again == want, (
        f"set_seed(2**32 - 1) twice drew {first} then {again}, expected {want}: a refusal pays only where valid seeds work.")


def test_get_batch_shapes_dtype_device(impl, device):
    """get_batch returns two (batch_size, context_length) int64 tensors on the requested device."""
    data = np.arange(50, dtype=np.uint16)
    out = impl.run(drivers.batches, data=data, batch_size=3, context_length=5, device=device, generator_seed=0)
    x, y = out["x"][0], out["y"][0]
    assert tuple(x.shape) == (3, 5) and tuple(y.shape) == (3, 5), (
        f"get_batch(arange(50), batch_size=3, context_length=5): shapes {tuple(x.shape)}, {tuple(y.shape)}, "
        f"expected (3, 5) each"
    )
    assert out["dtypes"] == ["torch.int64"] * 2, f"dtypes {out['dtypes']}, expected torch.int64 (LongTensor) for both"
    assert out["devices"] == [torch.device(device).type] * 2, f"devices {out['devices']}, expected {device}"


def test_get_batch_targets_are_the_next_tokens(impl):
    """Each row of x is dataset[s : s + T] for some start s, and y is dataset[s + 1 : s + T + 1]."""
    data = np.random.default_rng(0).permutation(40).astype(np.int64)  # every token names its position
    out = impl.run(drivers.batches, data=data, batch_size=6, context_length=4, generator_seed=1)
    x, y = out["x"][0].numpy(), out["y"][0].numpy()
    for row in range(6):
        s = int(np.flatnonzero(data == x[row, 0])[0])
        assert (x[row] == data[s : s + 4]).all() and (y[row] == data[s + 1 : s + 5]).all(), (
            f"row {row}: x = {x[row].tolist()}, y = {y[row].tolist()}; expected x = dataset[{s}:{s + 4}] = "
            f"{data[s:s + 4].tolist()} and y = dataset[{s + 1}:{s + 5}] = {data[s + 1:s + 5].tolist()}"
        )


def test_get_batch_reaches_both_ends(impl):
    """Starts are uniform over 0 .. len(dataset) - context_length - 1: the first and last windows both occur."""
    data = np.arange(7, dtype=np.int64)  # context 4: starts 0, 1, 2
    out = impl.run(drivers.batches, data=data, batch_size=300, context_length=4, generator_seed=2)
    starts = sorted(set(out["x"][0][:, 0].tolist()))
    # A correct get_batch misses a start with probability 3 * (2/3)**300 < 1e-50.
    assert starts == [0, 1, 2], (
        f"300 windows of length 4 from arange(7) started at {starts}; expected every start 0, 1, 2 "
        f"(the last valid start is len(dataset) - context_length - 1 = 2)"
    )


def test_get_batch_same_generator_seed_same_batch(impl):
    """Drawing from the given torch.Generator makes a batch reproducible: same generator seed, same batch."""
    data = np.arange(1000, dtype=np.uint16)
    a = impl.run(drivers.batches, data=data, batch_size=4, context_length=8, generator_seed=5, global_seed=0)
    b = impl.run(drivers.batches, data=data, batch_size=4, context_length=8, generator_seed=5, global_seed=1)
    assert torch.equal(a["x"][0], b["x"][0]), (
        f"two generators seeded 5 gave different batches (starts {a['x'][0][:, 0].tolist()} vs "
        f"{b['x'][0][:, 0].tolist()}); hint: pass generator= to the random call"
    )


def test_get_batch_rejects_bad_arguments(impl):
    """A dataset shorter than context_length + 1, or a non-positive size, raises ValueError. The refusals pay only where get_batch also works."""
    data = np.arange(5, dtype=np.uint16)
    for batch_size, context_length in [(2, 5), (0, 2), (2, 0), (-1, 2)]:
        with pytest.raises(ValueError):
            impl.training.get_batch(data, batch_size, context_length, "cpu")
    x, y = impl.training.get_batch(data, 3, 4, "cpu")  # the longest window: one valid start
    assert x.tolist() == [[0, 1, 2, 3]] * 3 and y.tolist() == [[1, 2, 3, 4]] * 3, (
        f"get_batch(arange(5), 3, 4): x = {x.tolist()}, y = {y.tolist()}; the only window is [0, 1, 2, 3] -> [1, 2, 3, 4]. "
        "A refusal pays only where get_batch also works."
    )


def test_get_batch_reads_a_memmap_without_loading_it(impl):
    """On a 64 MiB np.memmap, get_batch must slice the windows it needs and copy only those (a few KiB), never the whole file."""
    out = impl.run(drivers.memmap_batch, num_bytes=2**26, batch_size=4, context_length=8)
    assert tuple(out["x"].shape) == (4, 8) and out["dtype"] == "torch.int64", (
        f"get_batch on a uint16 memmap gave shape {tuple(out['x'].shape)}, dtype {out['dtype']}; "
        f"expected (4, 8), torch.int64"
    )
    assert torch.equal(out["x"][:, 1:], out["y"][:, :-1]), "y must be x shifted by one token"
    assert out["bytes_copied"] < out["dataset_bytes"] / 16, (
        f"get_batch copied {out['bytes_copied']} bytes out of a {out['dataset_bytes']}-byte memmap for a 4 x 8 "
        "batch: it loaded (or converted) the whole dataset. Hint: slice dataset[s : s + context_length + 1] "
        "for each start, and convert only those windows to int64."
    )


def _tensors(nested: list) -> list:
    return [torch.tensor(values) for values in nested]


def test_train_step_matches_a_plain_pytorch_step(impl, expected_values):
    """One train_step is zero_grad, forward, loss, backward, step; it returns the loss as a float."""
    got = impl.run(drivers.train_steps, optimizer="sgd", steps=3, seed=0)
    expected = expected_values["training.train_steps.sgd"]
    assert got["loss_types"] == ["float"] * 3, f"train_step returned {got['loss_types']}; hint: loss.item()"
    torch.testing.assert_close(got["losses"], expected["losses"], msg=lambda m: f"losses of 3 steps: {m}")
    for p, q in zip(got["params"], _tensors(expected["params"]), strict=True):
        torch.testing.assert_close(p, q, msg=lambda m: f"parameters after 3 SGD-momentum steps: {m}; "
                                   "hint: zero the gradients every step")


def test_train_step_bfloat16_autocast_keeps_float32(impl, expected_values):
    """Under autocast_dtype=torch.bfloat16 the loss is close to float32's but not equal, the step updates the weights as PyTorch's does; params and state stay float32."""
    got = impl.run(drivers.train_steps, optimizer="adamw", steps=2, seed=1, autocast_dtype=torch.bfloat16)
    expected = expected_values["training.train_steps.adamw_bf16"]
    assert set(got["param_dtypes"]) == {"torch.float32"} and set(got["state_dtypes"]) == {"torch.float32"}, (
        f"after bf16 autocast steps: param dtypes {got['param_dtypes']}, state dtypes {got['state_dtypes']}; "
        f"expected float32 only (autocast, not model.to(bfloat16))"
    )
    loss, ref_loss = got["losses"][0], expected["float32_first_loss"]
    assert loss != ref_loss and abs(loss - ref_loss) <= 0.05 * abs(ref_loss), (
        f"first loss under bf16 autocast {loss!r}, float32 loss {ref_loss!r}: expected close but not "
        f"identical; hint: wrap forward and loss in torch.autocast(device_type, dtype=...)"
    )
    # Using autocast earns nothing unless the step works: the weights must move as PyTorch's do.
    for p, q in zip(got["params"], _tensors(expected["params"]), strict=True):
        torch.testing.assert_close(p, q, rtol=0.01, atol=1e-3, msg=lambda m: (
            f"parameters after 2 bf16-autocast steps differ from a plain PyTorch loop's: {m}. Hint: zero_grad, "
            "forward and loss under autocast, backward, optimizer.step()"))


def test_checkpoint_roundtrip_restores_model_optimizer_iteration(impl):
    """load_checkpoint restores weights, optimizer state and returns the saved iteration."""
    saved = impl.run(drivers.checkpoint_save, optimizer="adamw", target="str", iteration=3, seed=0)
    out = impl.run(drivers.checkpoint_load, optimizer="adamw", target="str", checkpoint=saved["checkpoint"])
    assert out["iteration"] == 3, f"load_checkpoint returned {out['iteration']!r}, expected 3"
    model, optimizer = drivers.checkpoint_source("adamw", seed=0)  # what was saved, built again here
    for kind, want in (("params", drivers.params_of(model)), ("state", drivers.optimizer_state(optimizer))):
        assert len(out[kind]) == len(want) and all(torch.equal(a, b) for a, b in zip(out[kind], want)), (
            f"after save/load into a fresh model and optimizer, the {kind} differ from what was saved; "
            f"hint: save model.state_dict() and optimizer.state_dict(), and load both"
        )


def test_resume_reproduces_the_uninterrupted_run(impl, expected_values):
    """Stop after 5 steps (checkpoint every 2), resume from the checkpoint: losses match bit for bit."""
    until = impl.run(drivers.train_until, optimizer="adamw", num_steps=8, stop_at=5, every=2, init_seed=0, data_seed=0)
    resumed = impl.run(drivers.train_resumed, optimizer="adamw", num_steps=8, checkpoint=until["checkpoint"], data_seed=0)
    assert resumed["iteration"] == 4, (
        f"checkpoints every 2 steps over steps 0..4 last save iteration 4 (after step 3); got {resumed['iteration']!r}"
    )
    expected = expected_values["training.train.adamw"]["losses"]
    torch.testing.assert_close(resumed["rest"], expected[4:], msg=lambda m: (
        f"resumed losses {resumed['rest']} differ from a plain PyTorch loop's {expected[4:]}; "
        f"hint: save and load the optimizer state as well as the model. {m}"))
    assert resumed["rest"] == until["full"][4:], (
        f"resumed losses {resumed['rest']} differ from your uninterrupted run's {until['full'][4:]}: "
        "a resumed run must repeat it bit for bit"
    )
