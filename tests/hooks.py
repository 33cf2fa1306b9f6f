"""Hook specifications the suites offer to plugins (the grader's, above all)."""

import pytest


@pytest.hookspec(firstresult=True)
def pytest_make_impl(config):
    """Return the implementation under test, or None to import it in-process.

    The grader answers with a sandboxed implementation; tests cannot tell the difference.
    """
