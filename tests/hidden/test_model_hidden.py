"""Problem 5 (hidden): Linear and Cruncher against the reference and against torch itself.

Initial weights are random, so they are checked as a distribution with fixed seeds and
bounds that a correct init misses with probability < 1e-6 (each bound says why), never
value by value. Forward passes are checked against `x @ weight` computed here, on the
weights the implementation returned.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.drivers import model as drivers
from tests.strategies import linear_sizes

pytestmark = pytest.mark.model

# The `device` fixture is parametrised, not state: hypothesis may reuse it across examples.
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.differing_executors]

SQRT2 = math.sqrt(2)
# Truncated at +-3 std, a normal keeps the fraction 1 - 6 phi(3) / (2 Phi(3) - 1) of its variance.
TRUNCATED_VARIANCE = 1 - 6 * math.exp(-4.5) / math.sqrt(2 * math.pi) / math.erf(3 / SQRT2)


def _variance_ratio(w: torch.Tensor, std: float) -> float:
    return (w.double().square().mean() / std**2).item()


def _assert_spread(w, d_in, label):
    # Bernstein, for the mean of n = 65536 values w^2/std^2 in [0, 9] with variance 1.735:
    # P(|mean - TRUNCATED_VARIANCE| >= 0.03) <= 2 exp(-n 0.03^2 / (2 (1.735 + 9 * 0.03 / 3))) = 1.9e-7.
    assert w.numel() >= 65536
    ratio = _variance_ratio(w, 1 / math.sqrt(d_in))
    assert abs(ratio - TRUNCATED_VARIANCE) < 0.03, (
        f"{label}: mean(w^2) * d_in = {ratio:.4f}, expected {TRUNCATED_VARIANCE:.4f} +- 0.03"
    )


# --- Linear ---------------------------------------------------------------------------


@given(sizes=linear_sizes())
@example(sizes=(1, 2, ())).via("d_in of 1")
@example(sizes=(7, 3, ())).via("d_in > d_out")
def test_linear_parameters_match_reference(impl, ref, sizes):
    """Linear(d_in, d_out) has one parameter, `weight`, of shape (d_in, d_out), that requires grad."""
    d_in, d_out, _ = sizes
    got = impl.run(drivers.linear_init, d_in=d_in, d_out=d_out)
    want = ref.run(drivers.linear_init, d_in=d_in, d_out=d_out)
    assert got["names"] == want["names"] == ["weight"]
    assert got["shapes"] == want["shapes"] == {"weight": (d_in, d_out)}
    assert got["requires_grad"] == {"weight": True}
    assert got["num_parameters"] == d_in * d_out


@settings(max_examples=30, suppress_health_check=FIXTURE_OK)
@given(sizes=linear_sizes(), dtype=st.sampled_from([torch.float32, torch.float64]))
@example(sizes=(3, 5, ()), dtype=torch.float32).via("a single vector")
@example(sizes=(3, 5, (0,)), dtype=torch.float32).via("an empty batch")
@example(sizes=(3, 5, (1, 2, 1)), dtype=torch.float64).via("size-1 batch dims")
def test_linear_forward_is_x_matmul_weight(impl, device, sizes, dtype):
    """forward maps '... d_in' to '... d_out' as x @ weight, on x's device and dtype, keeping the autograd graph."""
    d_in, d_out, batch = sizes
    x = torch.randn(*batch, d_in, generator=torch.Generator().manual_seed(d_in), dtype=dtype).to(device)
    got = impl.run(drivers.linear_forward, d_in=d_in, d_out=d_out, x=x)
    expected = x @ got["weight"]
    assert got["out"].shape == expected.shape
    assert got["out"].dtype == dtype and got["out"].device.type == device
    torch.testing.assert_close(got["out"], expected)
    assert got["out_requires_grad"]


@pytest.mark.parametrize("d_in, d_out", [(4096, 16), (16, 4096), (1, 65536), (256, 256)])
def test_linear_init_std_is_one_over_sqrt_d_in(impl, d_in, d_out):
    """The weight's std is 1/sqrt(d_in) before truncation: not 1, not 1/sqrt(d_out), not 1/sqrt(d_in + d_out)."""
    w = impl.run(drivers.linear_init, d_in=d_in, d_out=d_out, seed=1)["weights"]["weight"]
    _assert_spread(w, d_in, f"Linear({d_in}, {d_out})")


def test_linear_init_truncated_at_3_std_not_3_absolute(impl):
    """Weights are truncated at +-3 std (trunc_normal_'s a and b are absolute, so scale them) and redrawn, not clamped."""
    d_in = d_out = 256
    std = 1 / math.sqrt(d_in)
    w = impl.run(drivers.linear_init, d_in=d_in, d_out=d_out, seed=2)["weights"]["weight"].double()
    z = w.abs() / std
    # An untruncated normal (or one truncated at 3 absolute, which is 48 std here) exceeds
    # 3 std with probability 0.0027 per weight: P(none of 65536 does) = exp(-177).
    assert z.max().item() <= 3 * (1 + 1e-6)
    # A normal truncated at 3 std puts 0.00104 of its mass beyond 2.9 std: 68 expected,
    # P(none) = exp(-68). Truncating tighter (say at 2 std) leaves none.
    assert (z > 2.9).sum().item() >= 1
    # Within 0.005 std of the bound a correct draw expects 65536 * 4.4e-5 = 2.9 weights;
    # P(>= 40) < 1e-20 (Chernoff). Clamping instead piles up 177 there.
    assert (z > 2.995).sum().item() < 40


def test_linear_init_matches_truncated_normal_cdf(impl):
    """The weights follow a normal of std 1/sqrt(d_in) truncated at 3 std, shape and all (not uniform, not centred elsewhere)."""
    d_in, d_out = 512, 128
    std = 1 / math.sqrt(d_in)
    w = impl.run(drivers.linear_init, d_in=d_in, d_out=d_out, seed=3)["weights"]["weight"]
    z = (w.double().flatten() / std).sort().values
    n = z.numel()
    phi = lambda t: 0.5 * (1 + torch.special.erf(t / SQRT2))  # noqa: E731
    lo, hi = phi(torch.tensor(-3.0, dtype=torch.float64)), phi(torch.tensor(3.0, dtype=torch.float64))
    cdf = ((phi(z) - lo) / (hi - lo)).clamp(0, 1)
    ranks = torch.arange(1, n + 1, dtype=torch.float64)
    distance = torch.maximum(ranks / n - cdf, cdf - (ranks - 1) / n).max().item()
    # Dvoretzky-Kiefer-Wolfowitz: P(sup |F_n - F| > t) <= 2 exp(-2 n t^2) = 1e-6 at this t.
    bound = math.sqrt(math.log(2 / 1e-6) / (2 * n))
    assert distance <= bound, f"Kolmogorov distance {distance:.4f} > {bound:.4f}"


# --- Cruncher -------------------------------------------------------------------------


@given(dim=st.integers(1, 8), num_layers=st.integers(0, 4))
@example(dim=1, num_layers=0).via("no hidden layers: only the head")
@example(dim=3, num_layers=1)
def test_cruncher_parameters_match_reference(impl, ref, dim, num_layers):
    """Cruncher registers layers.0.weight .. layers.{L-1}.weight (dim, dim), then head.weight (dim, 1), in that order, all trainable."""
    got = impl.run(drivers.cruncher_init, dim=dim, num_layers=num_layers)
    want = ref.run(drivers.cruncher_init, dim=dim, num_layers=num_layers)
    names = [f"layers.{i}.weight" for i in range(num_layers)] + ["head.weight"]
    assert got["names"] == want["names"] == names
    assert got["shapes"] == want["shapes"]
    assert got["num_parameters"] == dim * dim * num_layers + dim
    assert all(got["requires_grad"].values())


@settings(max_examples=30, suppress_health_check=FIXTURE_OK)
@given(dim=st.integers(1, 6), num_layers=st.integers(0, 3), batch=st.integers(0, 4),
       dtype=st.sampled_from([torch.float32, torch.float64]))
@example(dim=4, num_layers=2, batch=1, dtype=torch.float32).via("a batch of one stays shape (1,)")
@example(dim=1, num_layers=2, batch=3, dtype=torch.float32).via("dim 1: only the head axis goes")
@example(dim=3, num_layers=2, batch=0, dtype=torch.float64).via("an empty batch")
def test_cruncher_forward_chains_layers_then_head(impl, device, dim, num_layers, batch, dtype):
    """forward applies the layers in order with no activation, then the head, and squeezes only the last axis: (batch, dim) -> (batch,)."""
    x = torch.randn(batch, dim, generator=torch.Generator().manual_seed(dim), dtype=dtype).to(device)
    got = impl.run(drivers.cruncher_forward, dim=dim, num_layers=num_layers, x=x)
    expected = x
    for i in range(num_layers):
        expected = expected @ got["weights"][f"layers.{i}.weight"]
    expected = (expected @ got["weights"]["head.weight"])[:, 0]
    assert got["out"].shape == (batch,)
    assert got["out"].dtype == dtype and got["out"].device.type == device
    torch.testing.assert_close(got["out"], expected)
    assert got["out_requires_grad"]


def test_cruncher_layers_initialised_independently(impl):
    """Each Cruncher layer is its own Linear with its own draw (std 1/sqrt(dim), truncated at 3 std); layers do not share one weight."""
    dim = 256
    got = impl.run(drivers.cruncher_init, dim=dim, num_layers=3, seed=4)["weights"]
    layers = [got[f"layers.{i}.weight"] for i in range(3)]
    for i, w in enumerate(layers):
        # 3 bounds at 1.9e-7 each (see _assert_spread): all hold but with probability < 1e-6.
        _assert_spread(w, dim, f"layer {i}")
    for i in range(3):
        for j in range(i):
            assert not torch.equal(layers[i], layers[j]), f"layers {j} and {i} hold the same weights"
    head = got["head.weight"]
    assert head.shape == (dim, 1)
    assert head.abs().max().item() <= 3 * (1 + 1e-6) / math.sqrt(dim)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_linear_and_cruncher_honour_device_and_dtype(impl, device, dtype):
    """device= and dtype= reach every parameter, Cruncher's Linears included, and forward keeps that dtype."""
    for driver, args in [(drivers.linear_init, dict(d_in=3, d_out=2)),
                           (drivers.cruncher_init, dict(dim=3, num_layers=2))]:
        got = impl.run(driver, device=device, dtype=dtype, **args)
        assert got["names"], f"{driver.__name__}: no parameters"
        for name in got["names"]:
            assert got["dtypes"][name] == str(dtype), (driver.__name__, name, got["dtypes"][name])
            assert got["devices"][name].split(":")[0] == device, (driver.__name__, name, got["devices"][name])
    x = torch.ones(2, 3, dtype=dtype, device=device)
    out = impl.run(drivers.cruncher_forward, dim=3, num_layers=2, x=x)["out"]
    assert out.dtype == dtype and out.device.type == device and out.shape == (2,)
