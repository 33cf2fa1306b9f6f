"""Hidden tests for problem 7: memory accounting, against real PyTorch and the reference.

Oracles (tests/oracles/accounting.py, computed here): parameters and gradients of a Cruncher-shaped
torch.nn stack, the non-parameter tensors a real backward saves (minus the input batch,
which the lecture counts as data: see that module's docstring), and the per-parameter
state of torch.optim.SGD / Adagrad / AdamW after a real step.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import strategies as S
from tests.oracles import accounting as oracle

pytestmark = pytest.mark.accounting


@settings(max_examples=30)
@given(dim=st.integers(1, 9), num_layers=st.integers(0, 5))
@example(dim=1, num_layers=1)
@example(dim=3, num_layers=0)
@example(dim=4, num_layers=2)
def test_num_parameters_matches_torch_nn_and_reference(impl, ref, dim, num_layers):
    """cruncher_num_parameters must count every weight of the Cruncher's layers and its head (it has no biases)."""
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
    """cruncher_num_activations must count what the forward keeps for the backward, layer by layer; the batch itself is data."""
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


@pytest.mark.parametrize("name", ["adam", "rmsprop", "", "lion", "momentum", "AdamW", "SGD", " sgd"])
def test_optimizer_state_values_rejects_unknown_names(impl, ref, name):
    """Names other than "sgd", "adagrad", "adamw", matched exactly as PyTorch matches its option strings (no case folding), raise ValueError (no silent default); a refusal pays only where known names work."""
    with pytest.raises(ValueError):
        ref.accounting.optimizer_state_values(100, name)
    with pytest.raises(ValueError):
        impl.accounting.optimizer_state_values(100, name)
    want = ref.accounting.optimizer_state_values(100, "adagrad")
    assert want == 100 and impl.accounting.optimizer_state_values(100, "adagrad") == want


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


def test_training_memory_unknown_optimizer_raises(impl, ref):
    """training_memory passes an unknown optimizer name on to the same ValueError; the refusal pays only where training_memory also computes."""
    with pytest.raises(ValueError):
        impl.accounting.training_memory(4, 2, 2, "adam", 4)
    want = tuple(ref.accounting.training_memory(3, 2, 5, "adamw", 2))
    assert want[-1] == sum(want[:-1]) and tuple(impl.accounting.training_memory(3, 2, 5, "adamw", 2)) == want


MEASURED_FIELDS = ("parameters", "activations", "gradients", "master_weights", "optimizer_state")
RECIPE_NAMES = sorted(oracle.RECIPES)


def measured_breakdown(sizes, optimizer, recipe) -> tuple:
    batch_size, dim, num_layers = sizes
    measured = oracle.torch_mixed_precision_step(batch_size, dim, num_layers, optimizer, recipe)
    parts = tuple(measured[k] for k in MEASURED_FIELDS)
    return (*parts, sum(parts))


def mixed(backend, sizes, optimizer, recipe):
    batch_size, dim, num_layers = sizes
    return backend.accounting.mixed_precision_memory(
        dim, num_layers, batch_size, optimizer, **recipe.dtypes(), activation_dtype=recipe.activation
    )


@given(recipe=st.sampled_from(RECIPE_NAMES), optimizer=st.sampled_from(S.ACCOUNTING_OPTIMIZERS))
@example(recipe="bf16_fp32_master", optimizer="adamw")
@example(recipe="fp32", optimizer="adamw")
@example(recipe="fp16_fp32_master", optimizer="sgd")
def test_bytes_per_parameter_matches_real_recipes(impl, ref, recipe, optimizer):
    """bytes_per_parameter must be the weight, gradient, master-copy and state bytes a real step of the recipe keeps per parameter."""
    dtypes = oracle.RECIPES[recipe]
    measured = oracle.torch_mixed_precision_step(2, 3, 1, optimizer, dtypes)  # 12 parameters
    want = sum(measured[k] for k in ("parameters", "gradients", "master_weights", "optimizer_state")) // 12
    assert ref.accounting.bytes_per_parameter(optimizer, **dtypes.dtypes()) == want
    got = impl.accounting.bytes_per_parameter(optimizer, **dtypes.dtypes())
    assert type(got) is int and got == want


def test_bytes_per_parameter_defaults_are_bf16_adamw_with_fp32_master(impl, ref):
    """The defaults are AdamW, bf16 weights and gradients, an fp32 master copy and fp32 moments."""
    want = measured_breakdown((2, 3, 1), "adamw", oracle.RECIPES["bf16_fp32_master"])
    want = (want[0] + want[2] + want[3] + want[4]) // 12
    assert ref.accounting.bytes_per_parameter() == want == 16
    assert impl.accounting.bytes_per_parameter() == want


@settings(max_examples=30)
@given(sizes=S.cruncher_sizes(), recipe=st.sampled_from(RECIPE_NAMES), optimizer=st.sampled_from(S.ACCOUNTING_OPTIMIZERS))
@example(sizes=(2, 4, 2), recipe="bf16_fp32_master", optimizer="adamw")
@example(sizes=(3, 5, 0), recipe="autocast_bf16", optimizer="adagrad")
@example(sizes=(1, 1, 1), recipe="fp16_fp32_master", optimizer="sgd")
@example(sizes=(4, 2, 3), recipe="pure_bf16", optimizer="adamw")
def test_mixed_precision_memory_matches_a_real_step(impl, ref, sizes, recipe, optimizer):
    """Each field must be what a real step keeps: weights, saved activations, gradients, master copy and optimizer state, each in its own dtype."""
    dtypes = oracle.RECIPES[recipe]
    want = measured_breakdown(sizes, optimizer, dtypes)
    assert tuple(mixed(ref, sizes, optimizer, dtypes)) == want
    got = mixed(impl, sizes, optimizer, dtypes)
    assert tuple(got) == want
    assert got._fields == ("parameters", "activations", "gradients", "master_weights", "optimizer_state", "total")
    assert all(type(v) is int for v in got)


@settings(max_examples=20)
@given(sizes=S.cruncher_sizes(), recipe=st.sampled_from(["autocast_bf16", "autocast_fp16"]))
@example(sizes=(2, 4, 2), recipe="autocast_bf16")
def test_mixed_precision_activations_match_what_autocast_saves(impl, ref, sizes, recipe):
    """Under torch.autocast the saved activations are in the autocast dtype while weights, gradients and state stay float32."""
    batch_size, dim, num_layers = sizes
    dtypes = oracle.RECIPES[recipe]
    measured = oracle.torch_mixed_precision_step(batch_size, dim, num_layers, "adamw", dtypes)
    assert measured["activation_dtypes"] in ([], [str(dtypes.activation)])
    for backend in (ref, impl):
        got = mixed(backend, sizes, "adamw", dtypes)
        assert (got.activations, got.parameters) == (measured["activations"], measured["parameters"])


def test_mixed_precision_memory_defaults_are_bf16_adamw_with_fp32_master(impl, ref):
    """Without keyword arguments: AdamW, bf16 weights, gradients and activations, fp32 master copy and moments."""
    want = measured_breakdown((3, 5, 2), "adamw", oracle.RECIPES["bf16_fp32_master"])
    assert tuple(ref.accounting.mixed_precision_memory(5, 2, 3)) == want
    assert tuple(impl.accounting.mixed_precision_memory(5, 2, 3)) == want


def test_mixed_precision_memory_unknown_optimizer_raises(impl, ref):
    """mixed_precision_memory and bytes_per_parameter pass an unknown optimizer name on to the same ValueError; the refusals pay only where both also compute."""
    with pytest.raises(ValueError):
        impl.accounting.mixed_precision_memory(4, 2, 2, "adam")
    with pytest.raises(ValueError):
        impl.accounting.bytes_per_parameter("lion")
    assert impl.accounting.bytes_per_parameter("sgd") == ref.accounting.bytes_per_parameter("sgd")
    want = tuple(ref.accounting.mixed_precision_memory(3, 2, 5, "adagrad"))
    assert tuple(impl.accounting.mixed_precision_memory(3, 2, 5, "adagrad")) == want


@pytest.mark.parametrize("recipe", ["bf16_fp32_master", "fp32"])
def test_mixed_precision_memory_matches_the_device(impl, ref, device, recipe):
    """On the CPU each field is measured from the tensors of a real step; on a GPU, as growth of torch.cuda.memory_allocated."""
    # On CUDA every tensor a multiple of the allocator's 512-byte blocks; on the CPU small and quick.
    batch_size, dim, num_layers = (64, 256, 3) if device == "cuda" else (6, 16, 3)
    dtypes = oracle.RECIPES[recipe]
    measure = oracle.cuda_mixed_precision_allocations if device == "cuda" else oracle.torch_mixed_precision_step
    measured = measure(batch_size, dim, num_layers, "adamw", dtypes)
    want = tuple(measured[k] for k in MEASURED_FIELDS)
    for backend in (ref, impl):
        got = mixed(backend, (batch_size, dim, num_layers), "adamw", dtypes)
        assert tuple(got)[:5] == want
