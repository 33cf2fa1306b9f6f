"""Problem 5 (public): Linear and Cruncher, their parameters and their initialisation."""

import math

import pytest
import torch

from tests.drivers import model as drivers

pytestmark = pytest.mark.model

# Truncated at +-3 std, a normal keeps the fraction 1 - 6 phi(3) / (2 Phi(3) - 1) of its variance.
TRUNCATED_VARIANCE = 1 - 6 * math.exp(-4.5) / math.sqrt(2 * math.pi) / math.erf(3 / math.sqrt(2))


def test_linear_has_one_weight_of_shape_d_in_d_out(impl):
    """Linear(d_in, d_out) registers exactly one nn.Parameter named `weight`, shaped (d_in, d_out) (not nn.Linear's (d_out, d_in)), and no bias."""
    got = impl.run(drivers.linear_init, d_in=3, d_out=5)
    assert got["names"] == ["weight"], (
        f"Linear(3, 5): parameters {got['names']}, expected ['weight']. "
        "Hint: store the weight as self.weight = nn.Parameter(...) and add no bias."
    )
    assert got["shapes"]["weight"] == (3, 5), (
        f"Linear(3, 5): weight shape {got['shapes']['weight']}, expected (3, 5). "
        "Hint: the weight is (d_in, d_out) so that forward is x @ weight."
    )
    assert got["requires_grad"]["weight"], "Linear(3, 5): the weight must require grad (an nn.Parameter does)."


def test_linear_forward_is_x_matmul_weight(impl):
    """forward(x) is x @ weight for any number of leading dims, and keeps the autograd graph."""
    for x_shape in [(2, 4, 3), (3,)]:
        x = torch.randn(x_shape, generator=torch.Generator().manual_seed(0))
        got = impl.run(drivers.linear_forward, d_in=3, d_out=5, x=x)
        expected = x @ got["weight"]
        assert got["out"].shape == expected.shape, (
            f"Linear(3, 5) on x of shape {x_shape}: output shape {tuple(got['out'].shape)}, "
            f"expected {tuple(expected.shape)}. Hint: '... d_in' -> '... d_out'."
        )
        torch.testing.assert_close(
            got["out"], expected,
            msg=lambda m: f"Linear(3, 5) on x of shape {x_shape}: output is not x @ weight. {m}",
        )
        assert got["out_requires_grad"], (
            f"Linear(3, 5) on x of shape {x_shape}: the output does not require grad. "
            "Hint: use self.weight itself (not .data, not under torch.no_grad())."
        )


def test_linear_init_std_is_one_over_sqrt_d_in_truncated_at_3_std(impl):
    """The weight is drawn from a normal of std 1/sqrt(d_in) (d_in, not d_out), truncated at +-3 std (scale the bounds of trunc_normal_: they are absolute)."""
    d_in, d_out = 1024, 64
    std = 1 / math.sqrt(d_in)
    w = impl.run(drivers.linear_init, d_in=d_in, d_out=d_out, seed=0)["weights"]["weight"].double()
    ratio = (w.square().mean() / std**2).item()
    # Bernstein's inequality for the mean of 65536 values w^2/std^2 in [0, 9] (variance 1.73):
    # a correct init leaves TRUNCATED_VARIANCE +- 0.03 with probability < 1e-6.
    assert abs(ratio - TRUNCATED_VARIANCE) < 0.03, (
        f"Linear({d_in}, {d_out}): mean(w^2) / (1/d_in) = {ratio:.4f}, expected about "
        f"{TRUNCATED_VARIANCE:.4f} (a normal of std 1/sqrt(d_in) truncated at 3 std). "
        "Hint: std = 1/sqrt(d_in); truncating at 3 std removes about 2.7% of the variance."
    )
    largest = w.abs().max().item() / std
    assert largest <= 3 * (1 + 1e-6), (
        f"Linear({d_in}, {d_out}): max |w| is {largest:.3f} std, expected <= 3 std. "
        "Hint: nn.init.trunc_normal_'s a and b are absolute values: pass a=-3*std, b=3*std."
    )


def test_cruncher_parameters_names_shapes_and_count(impl):
    """Cruncher(dim, num_layers) holds layers.0.weight .. layers.{L-1}.weight of shape (dim, dim) and head.weight of shape (dim, 1)."""
    got = impl.run(drivers.cruncher_init, dim=4, num_layers=2)
    expected_names = ["layers.0.weight", "layers.1.weight", "head.weight"]
    assert got["names"] == expected_names, (
        f"Cruncher(4, 2): parameters {got['names']}, expected {expected_names}. "
        "Hint: self.layers = nn.ModuleList(...) of Linear(dim, dim), then self.head = Linear(dim, 1)."
    )
    expected_shapes = {"layers.0.weight": (4, 4), "layers.1.weight": (4, 4), "head.weight": (4, 1)}
    assert got["shapes"] == expected_shapes, f"Cruncher(4, 2): shapes {got['shapes']}, expected {expected_shapes}."
    assert got["num_parameters"] == 4 * 4 * 2 + 4, (
        f"Cruncher(4, 2): {got['num_parameters']} parameters, expected 36 (every layer's weight and the head's)."
    )


def test_cruncher_forward_chains_layers_and_squeezes_head(impl):
    """forward(x) applies every layer in order, then the head, and squeezes only the head's last axis (a batch of 1 stays shape (1,))."""
    for batch in [3, 1]:
        x = torch.randn(batch, 4, generator=torch.Generator().manual_seed(1))
        got = impl.run(drivers.cruncher_forward, dim=4, num_layers=2, x=x)
        w = got["weights"]
        expected = (x @ w["layers.0.weight"] @ w["layers.1.weight"] @ w["head.weight"])[:, 0]
        assert got["out"].shape == (batch,), (
            f"Cruncher(4, 2) on x of shape ({batch}, 4): output shape {tuple(got['out'].shape)}, "
            f"expected ({batch},). Hint: squeeze(-1), not squeeze()."
        )
        torch.testing.assert_close(
            got["out"], expected,
            msg=lambda m: f"Cruncher(4, 2) on a batch of {batch}: output is not the layers chained, then the head. {m}",
        )


def test_linear_and_cruncher_honour_device_and_dtype(impl, device):
    """device= and dtype= reach every parameter (Cruncher passes them on to its Linears)."""
    for driver, args in [(drivers.linear_init, dict(d_in=3, d_out=2)), (drivers.cruncher_init, dict(dim=3, num_layers=2))]:
        got = impl.run(driver, device=device, dtype=torch.float64, **args)
        for name in got["names"]:
            assert got["dtypes"][name] == "torch.float64" and got["devices"][name].startswith(device), (
                f"{driver.__name__}({args}, device={device!r}, dtype=float64): {name} is "
                f"{got['dtypes'][name]} on {got['devices'][name]}. Hint: pass device and dtype to torch.empty."
            )
