"""The public suite's expected values: numbers, not code (see tests/oracles/public_values.py,
the staff command that writes them from PyTorch and the reference)."""

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def expected_values() -> dict:
    """tests/public/expected_values.json: what PyTorch (or the reference) gives on the public tests' inputs."""
    return json.loads((Path(__file__).parent / "expected_values.json").read_text())
