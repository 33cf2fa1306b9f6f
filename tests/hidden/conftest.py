"""The hidden suite compares against the reference, which always runs here, in-process."""

import pytest

import seam


@pytest.fixture(scope="session")
def ref():
    """The reference implementation (solutions/), on the trusted side."""
    return seam.load_reference()
