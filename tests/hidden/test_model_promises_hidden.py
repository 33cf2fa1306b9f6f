"""Problem 5 (hidden): Linear and Cruncher built the ways scripts build them: device and dtype by
position or keyword, a device as a string or a torch.device, and a Cruncher made of the
implementation's own Linear layers in an nn.ModuleList. Expected values are written here."""

import pytest
import torch

from tests.drivers import model_calls as calls

pytestmark = pytest.mark.model


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")], ids=["str", "torch.device"])
@pytest.mark.parametrize("how", ["positional", "keyword"])
@pytest.mark.parametrize("cls, sizes", [("Linear", [3, 5]), ("Cruncher", [4, 2])])
def test_device_and_dtype_by_position_or_keyword(impl, cls, sizes, how, device):
    """Linear(d_in, d_out, device, dtype) and Cruncher(dim, num_layers, device, dtype): both by position or keyword, a device as str or torch.device."""
    args, kwargs = (sizes + [device, torch.float64], {}) if how == "positional" else (sizes, {"device": device, "dtype": torch.float64})
    got = impl.run(calls.built, cls=cls, args=args, kwargs=kwargs)
    assert got["dtypes"] == ["torch.float64"] and got["devices"] == ["cpu"], got
    if cls == "Linear":
        assert (got["names"], got["shapes"]) == (["weight"], [(3, 5)])
    else:
        assert got["names"] == ["layers.0.weight", "layers.1.weight", "head.weight"]


@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_cruncher_is_made_of_its_own_linears(impl, num_layers):
    """Cruncher's layers are an nn.ModuleList of this module's Linear(dim, dim), and its head a Linear(dim, 1) (not torch.nn.Linear)."""
    got = impl.run(calls.cruncher_parts, dim=3, num_layers=num_layers)
    assert got == {"module_list": True, "layers_are_own_linear": [True] * num_layers, "head_is_own_linear": True}
