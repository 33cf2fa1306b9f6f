"""Fixtures shared by the public and hidden suites.

`impl` is the implementation under test, reached only through the seam (seam/):
in-process by default (`--impl PATH`, or the `impl_default` ini value), or a sandboxed
worker when the grader's plugin answers `pytest_make_impl`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import seam
from seam import fast_tracebacks
from tests import profiles


def pytest_addhooks(pluginmanager):
    from tests import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser):
    group = parser.getgroup("assignment")
    group.addoption(
        "--impl",
        default=None,
        metavar="PATH",
        help="test the assignment/ package inside PATH (a submission folder), in this "
        "process; 'solutions' selects the reference (default: the impl_default ini value)",
    )
    parser.addini("impl_default", "what --impl defaults to", default=".")
    parser.addini(
        "hypothesis_profile_default",
        "hypothesis profile used when --hypothesis-profile is not given",
        default="student",
    )
    profiles.register()


def pytest_configure(config):
    profiles.load(config.getoption("--hypothesis-profile", None) or config.getini("hypothesis_profile_default"))
    # A failure's traceback without pytest re-parsing the test's file for every entry of every
    # failure: the same text, and the stubs' first run ~4 s quicker (the grader registers it too).
    if not config.pluginmanager.is_registered(fast_tracebacks):
        config.pluginmanager.register(fast_tracebacks, "seam.fast_tracebacks")


@pytest.fixture(scope="session")
def impl(request):
    """The implementation under test (a submission, the stubs, or the reference)."""
    made = request.config.hook.pytest_make_impl(config=request.config)
    if made is not None:
        return made
    spec = request.config.getoption("--impl") or request.config.getini("impl_default")
    return seam.load_in_process(spec, Path(str(request.config.rootpath)))


def _devices():
    cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
    return ["cpu", pytest.param("cuda", marks=[cuda, pytest.mark.cuda])]


@pytest.fixture(params=_devices())
def device(request) -> str:
    """Each tensor test runs on the CPU and, where CUDA is present, on the GPU too."""
    return request.param
