"""Public tests for problem 7: memory accounting (assignment/accounting.py).

The expected values are measurements of a real network, shipped as numbers
(tests/public/expected_values.json): a Cruncher-shaped stack of torch.nn.Linear layers,
its backward watched with torch.autograd.graph.saved_tensors_hooks, and real
torch.optim optimizer state.
"""

import pytest
import torch

pytestmark = pytest.mark.accounting


@pytest.mark.parametrize("dim, num_layers", [(4, 2), (1, 1), (3, 0), (5, 3)])
def test_num_parameters_matches_torch_nn(impl, expected_values, dim, num_layers):
    """Count every weight: num_layers square (dim x dim) layers plus the (dim x 1) head; no biases."""
    got = impl.accounting.cruncher_num_parameters(dim, num_layers)
    expected = expected_values["accounting.num_parameters"][f"{dim} {num_layers}"]
    assert got == expected, (
        f"cruncher_num_parameters({dim}, {num_layers}) = {got}, expected {expected} "
        f"(the parameters of a real torch.nn stack); hint: don't forget the head"
    )


def test_num_activations_worked_example_and_real_backward(impl, expected_values):
    """Activations are what a real backward saves for the backward pass, minus the input batch (data, in the lecture's convention)."""
    got = impl.accounting.cruncher_num_activations(2, 4, 2)
    assert got == 16, (
        f"cruncher_num_activations(batch_size=2, dim=4, num_layers=2) = {got}, expected 16. "
        "Hint: which layers' inputs does the backward need, and what shape is each?"
    )
    # A real backward saves each layer's input: the batch x plus the L layer outputs.
    # The lecture counts the batch as data, so the activations are the rest.
    saved = expected_values["accounting.saved_values 3 5 4"]
    expected = saved["activations"] - saved["input"]
    got = impl.accounting.cruncher_num_activations(3, 5, 4)
    assert got == expected, (
        f"cruncher_num_activations(3, 5, 4) = {got}, expected {expected}: autograd saved "
        f"{saved['activations']} non-parameter values, {saved['input']} of them the input batch"
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adamw"])
def test_optimizer_state_values_match_torch_optim(impl, expected_values, optimizer):
    """SGD keeps no state, AdaGrad one running sum per parameter, AdamW two moments per parameter."""
    # torch.optim's state after one step on the Cruncher with dim 4, 2 layers: 36 parameters
    expected = expected_values["accounting.state_values"][optimizer]
    got = impl.accounting.optimizer_state_values(36, optimizer)
    assert got == expected, (
        f"optimizer_state_values(36, {optimizer!r}) = {got}, expected {expected} "
        f"(values of per-parameter state torch.optim keeps after one step)"
    )


@pytest.mark.parametrize("name", ["adam", "rmsprop", "", "AdamW"])
def test_optimizer_state_values_rejects_unknown_names(impl, name):
    """Only "sgd", "adagrad" and "adamw" are known, matched exactly ("AdamW" is another name); raise ValueError for any other name. A refusal pays only where known names work."""
    with pytest.raises(ValueError):
        impl.accounting.optimizer_state_values(10, name)
    got = impl.accounting.optimizer_state_values(10, "adamw")
    assert got == 20, f"optimizer_state_values(10, 'adamw') = {got}, expected 20: a refusal pays only where known names work."


def test_training_memory_worked_example(impl):
    """training_memory(4, 2, 2, "adagrad", 4): the four kinds of values in bytes, and their total."""
    got = impl.accounting.training_memory(4, 2, 2, "adagrad", 4)
    expected = (144, 64, 144, 144, 496)
    assert tuple(got) == expected, (
        f"training_memory(dim=4, num_layers=2, batch_size=2, 'adagrad', 4) = {tuple(got)}, "
        f"expected (parameters, activations, gradients, optimizer_state, total) = {expected}"
    )
    assert got.total == 496 and got.activations == 64, (
        f"fields of the result: {got!r}; hint: return a MemoryBreakdown, field order as in the spec"
    )


def test_training_memory_defaults_to_adagrad_float32(impl):
    """The defaults are optimizer="adagrad" and bytes_per_value=4."""
    got = impl.accounting.training_memory(4, 2, 2)
    assert tuple(got) == (144, 64, 144, 144, 496), f"training_memory(4, 2, 2) = {tuple(got)}, expected 496 in total"
    assert all(isinstance(v, int) for v in got), f"every field should be a Python int (bytes), got {got!r}"


MEASURED_FIELDS = ("parameters", "activations", "gradients", "master_weights", "optimizer_state")


def test_bytes_per_parameter_of_mixed_precision_adamw_is_16(impl, expected_values):
    """bytes_per_parameter() is what a real bf16 AdamW step with an fp32 master copy keeps per parameter; all-fp32 AdamW without a master copy keeps as much, split differently."""
    measured = expected_values["accounting.mixed_precision_step"]["bf16_fp32_master 2 4 2"]
    per_parameter = sum(measured[k] for k in ("parameters", "gradients", "master_weights", "optimizer_state")) // 36
    got = impl.accounting.bytes_per_parameter()
    assert got == per_parameter == 16, (
        f"bytes_per_parameter() = {got}; a real bf16 AdamW step with an fp32 master copy keeps {per_parameter} "
        f"bytes per parameter ({measured}). Hint: weights, gradients, master copy, and each state value."
    )
    fp32 = impl.accounting.bytes_per_parameter("adamw", weight_dtype=torch.float32, grad_dtype=torch.float32,
                                               master_dtype=None, state_dtype=torch.float32)
    assert fp32 == 16, f"all-fp32 AdamW without a master copy: {fp32}, expected 16 (weight, gradient, two moments)"


@pytest.mark.parametrize("recipe", ["bf16_fp32_master", "autocast_bf16", "fp32"])
def test_mixed_precision_memory_matches_a_real_step(impl, expected_values, recipe):
    """Each field is what a real step of the recipe keeps (autocast: fp32 weights, bf16 activations)."""
    names = expected_values["accounting.recipe_dtypes"][recipe]
    dtypes = {key: None if name is None else getattr(torch, name) for key, name in names.items()}
    measured = expected_values["accounting.mixed_precision_step"][f"{recipe} 3 5 2"]
    want = tuple(measured[k] for k in MEASURED_FIELDS)
    got = impl.accounting.mixed_precision_memory(5, 2, 3, "adamw", **dtypes)
    assert tuple(got)[:5] == want and got.total == sum(want), (
        f"mixed_precision_memory(dim=5, num_layers=2, batch_size=3, 'adamw', {dtypes}) = {got!r}; a real step "
        f"keeps {dict(zip(MEASURED_FIELDS, want))} (activations saved in {measured['activation_dtypes']}). "
        "Hint: the same counts as training_memory, each times its own dtype's bytes."
    )
