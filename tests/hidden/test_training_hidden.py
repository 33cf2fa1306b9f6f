"""Hidden tests for problem 8: data, the training loop, checkpoints.

Oracles: plain PyTorch (tests/oracles/training.py, computed here) for train_step and train,
the dataset itself for get_batch's windows, and the reference where behaviour is
deterministic. Random batches are checked through their distribution, never exact values.
Every checkpoint's bytes are read back by a call the grader runs in a fresh process (empty
scratch), and what it restores is compared with what was saved, as computed here: never with a
value the submission returned before.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests import strategies as S
from tests.drivers import training as drivers
from tests.oracles import training as oracle

pytestmark = pytest.mark.training

# `device` is a fixed parameter, safe to share across hypothesis examples.
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors]


def _dataset(dtype_name, length, seed):
    return np.random.default_rng(seed).integers(0, 500, size=length).astype(dtype_name)


# --- set_seed -----------------------------------------------------------------------


@settings(max_examples=15, suppress_health_check=FIXTURE_OK)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
@example(seed=2**32 - 1)
def test_set_seed_reseeds_every_generator(impl, device, seed):
    """set_seed seeds random, NumPy and torch (on every device): re-seeding repeats the draws, another seed changes them."""
    other = (seed + 1) % 2**32
    first, again, different = impl.run(drivers.seed_draws, seeds=[seed, seed, other], device=device)
    expected, expected_other = oracle.seeded_draws(seed, device), oracle.seeded_draws(other, device)
    for source in ("random", "numpy", "torch"):
        assert first[source] == again[source] == expected[source]
        assert different[source] == expected_other[source] != expected[source]


@pytest.mark.parametrize("seed", [-1, -(2**31), 2**32, 2**40])
def test_set_seed_rejects_seeds_outside_32_bits(impl, seed):
    """Seeds outside 0 <= seed < 2**32 raise ValueError; a refusal pays only where valid seeds reseed."""
    with pytest.raises(ValueError):
        impl.run(drivers.seed_draws, seeds=[seed])
    first, again, other = impl.run(drivers.seed_draws, seeds=[0, 0, 1])
    assert first == again == oracle.seeded_draws(0) and other == oracle.seeded_draws(1)


# --- get_batch ----------------------------------------------------------------------


@settings(max_examples=40, suppress_health_check=FIXTURE_OK)
@given(data=S.token_datasets(), batch_size=st.integers(1, 6), context_length=st.integers(1, 12))
@example(data=("uint16", 2, 0), batch_size=1, context_length=1)
@example(data=("int64", 9, 1), batch_size=5, context_length=8)
@example(data=("int32", 13, 2), batch_size=3, context_length=12)
def test_get_batch_rows_are_windows_and_next_tokens(impl, device, data, batch_size, context_length):
    """Every x row is some dataset[s : s + T] and its y row dataset[s + 1 : s + T + 1], int64, on the device."""
    dataset = _dataset(*data)
    if len(dataset) < context_length + 1:
        with pytest.raises(ValueError):
            impl.training.get_batch(dataset, batch_size, context_length, "cpu")
        return
    out = impl.run(drivers.batches, data=dataset, batch_size=batch_size, context_length=context_length,
                   device=device, generator_seed=data[2])
    x, y = out["x"][0], out["y"][0]
    assert out["dtypes"] == ["torch.int64"] * 2
    assert out["devices"] == [torch.device(device).type] * 2
    assert tuple(x.shape) == tuple(y.shape) == (batch_size, context_length)
    windows = torch.from_numpy(
        np.lib.stride_tricks.sliding_window_view(dataset.astype(np.int64), context_length + 1).copy()
    )
    rows = torch.cat([x, y[:, -1:]], dim=1)  # x plus its last target: a window of T + 1 tokens
    assert torch.equal(x[:, 1:], y[:, :-1])
    for row in rows:
        assert (windows == row).all(dim=1).any()


def test_get_batch_starts_are_uniform_over_every_valid_start(impl):
    """Starts are uniform over 0 .. len - T - 1 inclusive: no start missing, none favoured."""
    num_starts, context_length, draws = 16, 4, 16_000
    data = np.arange(num_starts + context_length, dtype=np.int64)  # x[:, 0] is the start
    out = impl.run(drivers.batches, data=data, batch_size=draws, context_length=context_length, generator_seed=123)
    counts = torch.bincount(out["x"][0][:, 0], minlength=num_starts)
    assert len(counts) == num_starts  # no start beyond len - T - 1
    # Each count is Binomial(16000, 1/16): mean 1000, sd 30.6. |count - 1000| > 200 is
    # 6.5 sd, probability < 8e-11 per bin, so a uniform sampler fails < 1.3e-9 (union bound).
    assert ((counts - draws // num_starts).abs() <= 200).all()


def test_get_batch_draws_from_the_given_generator(impl):
    """Batches depend on the generator's seed and state only: not on the global RNG, and each call advances it."""
    data = np.arange(5000, dtype=np.int64)  # 4984 starts: equal batches by chance have probability < 1e-29
    kwargs = dict(data=data, batch_size=8, context_length=16)
    a = impl.run(drivers.batches, generator_seed=1, global_seed=0, calls=2, **kwargs)
    b = impl.run(drivers.batches, generator_seed=1, global_seed=99, calls=2, **kwargs)
    c = impl.run(drivers.batches, generator_seed=2, global_seed=0, calls=2, **kwargs)
    assert all(torch.equal(p, q) for p, q in zip(a["x"], b["x"]))  # same generator, other global seed
    assert not torch.equal(a["x"][0], c["x"][0])  # other generator, same global seed
    assert not torch.equal(a["x"][0], a["x"][1])  # the generator's state advances


@pytest.mark.parametrize("batch_size, context_length", [(32, 64), (1, 1)])
def test_get_batch_works_on_a_memmap_larger_than_memory(impl, batch_size, context_length):
    """get_batch on a 64 MiB uint16 memmap must copy only the windows it needs (slice it; never np.array/torch.tensor/.astype the whole of it); measured the same way on every OS."""
    out = impl.run(drivers.memmap_batch, num_bytes=2**26, batch_size=batch_size,
                   context_length=context_length, seed=batch_size)
    x, y = out["x"], out["y"]
    assert tuple(x.shape) == tuple(y.shape) == (batch_size, context_length) and out["dtype"] == "torch.int64"
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert int(x.max()) <= 128 and int(x.min()) >= 0  # the file holds 0 and the tokens 1..128 only
    assert out["bytes_copied"] < out["dataset_bytes"] / 16  # a whole copy is >= the file's bytes


@pytest.mark.parametrize(
    "length, batch_size, context_length",
    [(4, 2, 4), (0, 1, 1), (1, 1, 1), (10, 0, 3), (10, 3, 0), (10, -2, 3), (10, 3, -1)],
)
def test_get_batch_rejects_short_datasets_and_bad_sizes(impl, length, batch_size, context_length):
    """A dataset shorter than context_length + 1 or a size <= 0 raises ValueError; a refusal pays only where get_batch also works."""
    with pytest.raises(ValueError):
        impl.training.get_batch(np.arange(length, dtype=np.uint16), batch_size, context_length, "cpu")
    x, y = impl.training.get_batch(np.arange(10, 16, dtype=np.int32), 2, 5, "cpu")  # one valid start
    assert x.tolist() == [[10, 11, 12, 13, 14]] * 2 and y.tolist() == [[11, 12, 13, 14, 15]] * 2


# --- train_step ---------------------------------------------------------------------


@settings(max_examples=12, suppress_health_check=FIXTURE_OK)
@given(optimizer=st.sampled_from(["sgd", "adamw"]), steps=st.integers(1, 4), seed=st.integers(0, 1000))
@example(optimizer="sgd", steps=3, seed=0)
@example(optimizer="adamw", steps=1, seed=5)
def test_train_step_matches_pytorch_and_reference(impl, ref, device, optimizer, steps, seed):
    """train_step: zero_grad, forward, loss, backward, optimizer.step(), return loss.item()."""
    expected = oracle.torch_train_steps(optimizer, steps, seed, device=device)
    reference = ref.run(drivers.train_steps, optimizer=optimizer, steps=steps, seed=seed, device=device)
    got = impl.run(drivers.train_steps, optimizer=optimizer, steps=steps, seed=seed, device=device)
    torch.testing.assert_close(reference["losses"], expected["losses"])
    assert got["loss_types"] == ["float"] * steps
    torch.testing.assert_close(got["losses"], expected["losses"])
    for p, q in zip(got["params"], expected["params"], strict=True):
        torch.testing.assert_close(p, q)
    for p, q in zip(got["state"], expected["state"], strict=True):
        torch.testing.assert_close(p, q)
    assert got["devices"] == [torch.device(device).type]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_train_step_bfloat16_autocast(impl, device, optimizer):
    """bf16 autocast: forward and loss in torch.autocast, parameters and optimizer state kept float32."""
    expected = oracle.torch_train_steps(optimizer, 3, 11, torch.bfloat16, device)
    fp32 = oracle.torch_train_steps(optimizer, 3, 11, None, device)
    got = impl.run(drivers.train_steps, optimizer=optimizer, steps=3, seed=11,
                   autocast_dtype=torch.bfloat16, device=device)
    assert set(got["param_dtypes"]) == {"torch.float32"}
    assert set(got["state_dtypes"]) <= {"torch.float32"}
    assert got["loss_types"] == ["float"] * 3
    assert got["losses"][0] != fp32["losses"][0]  # autocast changed the arithmetic
    torch.testing.assert_close(got["losses"], fp32["losses"], rtol=0.05, atol=1e-3)
    torch.testing.assert_close(got["losses"], expected["losses"], rtol=0.01, atol=1e-3)
    for p, q in zip(got["params"], expected["params"], strict=True):
        torch.testing.assert_close(p, q, rtol=0.01, atol=1e-3)


# --- checkpoints and train ----------------------------------------------------------


@pytest.mark.parametrize("target", ["str", "pathlike", "bytesio"])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_checkpoint_roundtrip_through_paths_and_files(impl, optimizer, target):
    """save_checkpoint/load_checkpoint accept a str, an os.PathLike or a binary file and restore everything."""
    saved = impl.run(drivers.checkpoint_save, optimizer=optimizer, target=target, iteration=17, seed=3)
    out = impl.run(drivers.checkpoint_load, optimizer=optimizer, target=target, checkpoint=saved["checkpoint"])
    expected = oracle.saved_checkpoint(optimizer, seed=3)
    assert out["iteration"] == 17
    for kind in ("params", "state"):
        assert len(out[kind]) == len(expected[kind]) > 0
        assert all(torch.equal(a, b) for a, b in zip(out[kind], expected[kind]))
    assert out["lr"] == expected["lr"] == [0.05 if optimizer == "sgd" else 1e-2]


@settings(max_examples=10)
@given(optimizer=st.sampled_from(["sgd", "adamw"]), num_steps=st.integers(0, 6), seed=st.integers(0, 100))
@example(optimizer="adamw", num_steps=0, seed=0)
def test_train_losses_match_pytorch(impl, optimizer, num_steps, seed):
    """train(..., num_steps) runs steps 0..num_steps-1 with batch_fn(step) and returns their losses as floats."""
    expected = oracle.torch_train_losses(optimizer, num_steps, seed)
    got = impl.run(drivers.train_losses, optimizer=optimizer, num_steps=num_steps, seed=seed)
    assert got["loss_types"] == expected["loss_types"]
    torch.testing.assert_close(got["losses"], expected["losses"])
    for p, q in zip(got["params"], expected["params"], strict=True):
        torch.testing.assert_close(p, q)


@settings(max_examples=12)
@given(
    optimizer=st.sampled_from(["sgd", "adamw"]),
    every=st.integers(1, 4),
    stop_after=st.integers(0, 4),
    more=st.integers(0, 4),
    seed=st.integers(0, 100),
)
@example(optimizer="adamw", every=2, stop_after=1, more=3, seed=0)
@example(optimizer="adamw", every=1, stop_after=0, more=0, seed=1)
@example(optimizer="sgd", every=3, stop_after=2, more=2, seed=2)
def test_resume_is_bit_for_bit(impl, optimizer, every, stop_after, more, seed):
    """Stopping, loading the last checkpoint and calling train(start_step=iteration) repeats the uninterrupted losses exactly."""
    stop_at = every + stop_after  # at least one checkpoint before the stop
    num_steps = stop_at + more
    init_seed, data_seed = seed, seed + 1000
    until = impl.run(drivers.train_until, optimizer=optimizer, num_steps=num_steps, stop_at=stop_at, every=every,
                     init_seed=init_seed, data_seed=data_seed)
    resumed = impl.run(drivers.train_resumed, optimizer=optimizer, num_steps=num_steps, checkpoint=until["checkpoint"],
                       data_seed=data_seed)
    expected = oracle.torch_train(optimizer, num_steps, init_seed, data_seed)
    iteration = stop_at // every * every
    assert resumed["iteration"] == iteration
    torch.testing.assert_close(until["full"], expected["losses"])
    torch.testing.assert_close(resumed["rest"], expected["losses"][iteration:])
    for p, q in zip(resumed["params"], expected["params"], strict=True):
        torch.testing.assert_close(p, q)
    assert until["part"] == until["full"][:stop_at]
    assert resumed["rest"] == until["full"][iteration:]  # bit for bit
    assert all(torch.equal(p, q) for p, q in zip(until["params_full"], resumed["params"], strict=True))


def test_checkpoint_cadence(impl):
    """After step s with (s + 1) % checkpoint_every == 0, save iteration s + 1; no path or every == 0: no file."""
    runs = [  # (start_step, num_steps, every, with_path) -> iteration of the last file, losses
        ((0, 2, 3, True), None, 2),
        ((0, 3, 3, True), 3, 3),
        ((0, 5, 3, True), 3, 5),
        ((0, 6, 3, True), 6, 6),
        ((0, 4, 1, True), 4, 4),
        ((4, 8, 3, True), 6, 4),
        ((4, 5, 3, True), None, 1),
        ((0, 6, 0, True), None, 6),
        ((0, 6, 3, False), None, 6),
    ]
    trained = impl.run(drivers.train_cadence, runs=[run for run, _, _ in runs])
    found = impl.run(drivers.read_checkpoints, checkpoints=trained["checkpoints"])
    assert trained["num_losses"] == [num_losses for _, _, num_losses in runs]
    for (run, iteration, _), checkpoint in zip(runs, found, strict=True):
        if iteration is None:
            assert checkpoint is None, run
            continue
        assert checkpoint is not None and checkpoint["iteration"] == iteration, run
        # the weights in the file are those after steps start_step .. iteration - 1, as computed here
        expected = oracle.torch_train("sgd", iteration, init_seed=0, data_seed=0, start_step=run[0])
        for p, q in zip(checkpoint["params"], expected["params"], strict=True):
            torch.testing.assert_close(p, q)
