"""The kit's own test suite keeps its shape: what makes CI fast must not stop working silently.

pytest 9.2 renamed the attribute pytest-xdist 3.8 rewrites to put a test in its xdist group: with
`--dist loadgroup` every expensive module fixture (a graded class, a release bundle) was then built
once per worker, and the suite ran twice as long with every test still passing.
"""

import pytest

pytestmark = pytest.mark.project


@pytest.mark.xdist_group("suite-machinery")
def test_an_xdist_group_reaches_the_scheduler(request):
    """Under `--dist loadgroup` a grouped test's id carries its group, which is what the scheduler reads."""
    if not (hasattr(request.config, "workerinput") and getattr(request.config.option, "loadgroup", False)):
        pytest.skip("not run by an xdist worker under --dist loadgroup (the README's test command is)")
    assert request.node.nodeid.endswith("@suite-machinery"), request.node.nodeid


def test_the_markers_that_cut_the_suite_are_registered(pytestconfig):
    """`-m "not e2e"` and `-m "not slow"` name registered markers (a typo would select everything)."""
    registered = {line.split(":", 1)[0] for line in pytestconfig.getini("markers")}
    assert {"e2e", "slow"} <= registered
