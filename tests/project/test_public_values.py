"""The public suite's expected values are numbers in a file (tests/public/expected_values.json),
so that no code of ours that computes them ships to students; this keeps the file honest."""

import json

import pytest

from tests.oracles import public_values

pytestmark = pytest.mark.project


def test_the_shipped_values_are_what_the_staff_command_computes_now():
    """Regenerated from PyTorch, the oracles and the reference, they agree with the file."""
    stored = json.loads(public_values.PATH.read_text())
    assert public_values.disagreements(stored, public_values.compute()) == [], (
        "tests/public/expected_values.json is stale: run `python -m tests.oracles.public_values`"
    )


def test_a_stale_value_is_seen():
    stored = json.loads(public_values.PATH.read_text())
    stored["accounting.num_parameters"]["4 2"] += 1
    stored["training.train.adamw"]["losses"][0] *= 1.001
    found = public_values.disagreements(stored, json.loads(public_values.PATH.read_text()))
    assert len(found) == 2 and found[0] == "/accounting.num_parameters/4 2: 37 != 36"
    assert found[1].startswith("/training.train.adamw/losses[0]: ")


def test_another_cpus_rounding_is_not_stale_a_real_change_near_zero_is():
    """An AVX-512 machine's float32 SGD step moved a parameter near zero by 3.5e-9: not stale.
    A change a twentieth of the public tests' own atol (1e-5) still is."""
    assert public_values.disagreements(-0.00012025383330183104, -0.00012025737669318914) == []
    assert public_values.disagreements(-0.00012025, -0.00012025 + 5e-7) != []
