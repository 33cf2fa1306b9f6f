"""Hidden tests for problem 7: memory accounting, against real PyTorch and the reference.

Oracles (tests/scenarios/accounting.py): parameters and gradients of a Cruncher-shaped
torch.nn stack, the non-parameter tensors a real backward saves (minus the input batch,
which the lecture counts as data: see that module's docstring), and the per-parameter
state of torch.optim.SGD / Adagrad / AdamW after a real step.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import strategies as S
from tests.scenarios import accounting as oracle

pytestmark = pytest.mark.accounting


@settings(max_examples=30)
@given(dim=st.integers(1, 9), num_layers=st.integers(0, 5))
@example(dim=1, num_layers=1)
@example(dim=3, num_layers=0)
@example(dim=4, num_layers=2)
def test_num_parameters_matches_torch_nn_and_reference(impl, ref, dim, num_layers):
    """Parameters are num_layers dim x dim weights plus the dim x 1 head (no biases)."""
    expected = oracle.torch_num_parameters(dim, num_layers)
    assert ref.accounting.cruncher_num_parameters(dim, num_layers) == expected
    assert impl.accounting.cruncher_num_parameters(dim, num_layers) == expected


@settings(max_examples=25)
@given(sizes=S.cruncher_sizes())
@example(sizes=(2, 4, 2))
@example(sizes=(1, 1, 1))
@example(sizes=(3, 5, 0))
@example(sizes=(5, 2, 3))
def test_num_activations_matches_saved_tensors_of_a_real_backward(impl, ref, sizes):
    """Activations are one batch x dim output per square layer (B x dim x layers); the batch itself is data."""
    batch_size, dim, num_layers = sizes
    saved = oracle.torch_saved_values(batch_size, dim, num_layers)
    # The real graph keeps every layer's input: the batch x and the outputs h_1..h_L.
    expected = saved["activations"] - saved["input"]
    assert ref.accounting.cruncher_num_activations(batch_size, dim, num_layers) == expected
    assert impl.accounting.cruncher_num_activations(batch_size, dim, num_layers) == expected


@settings(max_examples=30)
@given(optimizer=st.sampled_from(S.ACCOUNTING_OPTIMIZERS), shapes=S.parameter_shapes())
@example(optimizer="adagrad", shapes=[(4, 4), (4, 4), (4, 1)])
@example(optimizer="adamw", shapes=[])
@example(optimizer="sgd", shapes=[(3, 2)])
@example(optimizer="adamw", shapes=[(), (1,)])
def test_optimizer_state_values_match_torch_optim(impl, ref, optimizer, shapes):
    """Count the per-parameter state torch.optim keeps: SGD none, Adagrad's sum, AdamW's two moments."""
    expected, _ = oracle.torch_state_values(optimizer, shapes)
    num_parameters = sum(torch.Size(shape).numel() for shape in shapes)
    assert ref.accounting.optimizer_state_values(num_parameters, optimizer) == expected
    assert impl.accounting.optimizer_state_values(num_parameters, optimizer) == expected


@pytest.mark.parametrize("name", ["adam", "rmsprop", "", "lion", "momentum"])
def test_optimizer_state_values_rejects_unknown_names(impl, name):
    """Names other than "sgd", "adagrad", "adamw" raise ValueError (no silent default)."""
    with pytest.raises(ValueError):
        impl.accounting.optimizer_state_values(100, name)


@settings(max_examples=25)
@given(
    sizes=S.cruncher_sizes(),
    optimizer=st.sampled_from(S.ACCOUNTING_OPTIMIZERS),
    bytes_per_value=st.sampled_from(sorted(oracle.DTYPE_OF_BYTES)),
)
@example(sizes=(2, 4, 2), optimizer="adagrad", bytes_per_value=4)
@example(sizes=(2, 4, 2), optimizer="adamw", bytes_per_value=2)
@example(sizes=(3, 5, 3), optimizer="sgd", bytes_per_value=8)
@example(sizes=(1, 1, 0), optimizer="adamw", bytes_per_value=4)
def test_training_memory_matches_a_real_training_step(impl, ref, sizes, optimizer, bytes_per_value):
    """Bytes = values x bytes_per_value for parameters, activations, gradients and optimizer state; total is their sum."""
    batch_size, dim, num_layers = sizes
    dtype = oracle.DTYPE_OF_BYTES[bytes_per_value]
    saved = oracle.torch_saved_values(batch_size, dim, num_layers, dtype)
    shapes = [(dim, dim)] * num_layers + [(dim, 1)]
    _, state_bytes = oracle.torch_state_values(optimizer, shapes, dtype)
    parts = (
        saved["parameter_bytes"],
        saved["activation_bytes"] - saved["input_bytes"],
        saved["gradient_bytes"],
        state_bytes,
    )
    expected = (*parts, sum(parts))
    assert tuple(ref.accounting.training_memory(dim, num_layers, batch_size, optimizer, bytes_per_value)) == expected
    got = impl.accounting.training_memory(dim, num_layers, batch_size, optimizer, bytes_per_value)
    assert tuple(got) == expected


@settings(max_examples=40)
@given(
    dim=st.integers(1, 4096),
    num_layers=st.integers(0, 128),
    batch_size=st.integers(1, 2048),
    optimizer=st.sampled_from(S.ACCOUNTING_OPTIMIZERS),
    bytes_per_value=st.sampled_from([1, 2, 4, 8]),
)
@example(dim=4, num_layers=2, batch_size=2, optimizer="adagrad", bytes_per_value=4)
def test_training_memory_matches_reference_at_scale(impl, ref, dim, num_layers, batch_size, optimizer, bytes_per_value):
    """The formulas hold at any size, with every field an int and the fields in the spec's order."""
    expected = ref.accounting.training_memory(dim, num_layers, batch_size, optimizer, bytes_per_value)
    got = impl.accounting.training_memory(dim, num_layers, batch_size, optimizer, bytes_per_value)
    assert tuple(got) == tuple(expected)
    assert got._fields == ("parameters", "activations", "gradients", "optimizer_state", "total")
    assert all(type(value) is int for value in got)


def test_training_memory_unknown_optimizer_raises(impl):
    """training_memory passes an unknown optimizer name on to the same ValueError."""
    with pytest.raises(ValueError):
        impl.accounting.training_memory(4, 2, 2, "adam", 4)
