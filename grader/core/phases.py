"""Phase timings for `python bench/isolation.py --profile` (bench/phases.py reads them): off (one dict lookup per hook) unless GRADER_PROFILE
names a file, to which this process then appends its timings as JSON lines when it exits.

    mark(name)        a moment: {"mark": name, "t": wall-clock seconds}
    add(name, secs)   one more duration of a repeated thing ("call KEY": a call's round trip,
                      in-process the call itself; "worker spawn"; "test call")

As a pytest plugin (`-p grader.core.phases`, or passed to pytest.main) it marks collection and
the test loop and sums setup/call/teardown durations. It imports no pytest: the grader
loads it before the sandbox forks its zygote, when pytest must not be in memory.
Wall-clock `time.time()` is used for marks so that the bench can line them up with the
moment it started the process.
"""

from __future__ import annotations

import atexit
import inspect
import json
import os
import time
import types
from pathlib import Path

PATH = os.environ.get("GRADER_PROFILE")
_marks: list[tuple[str, float]] = []
_durations: dict[str, list[float]] = {}


def mark(name: str) -> None:
    if PATH:
        _marks.append((name, time.time()))


def add(name: str, seconds: float) -> None:
    if PATH:
        _durations.setdefault(name, []).append(seconds)


def flush() -> None:
    """Append what this process recorded (once; forked children never get here: os._exit)."""
    if not PATH or not (_marks or _durations):
        return
    with open(PATH, "a") as out:
        for name, at in _marks:
            out.write(json.dumps({"pid": os.getpid(), "mark": name, "t": at}) + "\n")
        for name, seconds in _durations.items():
            out.write(json.dumps({"pid": os.getpid(), "durations": name, "seconds": seconds}) + "\n")
    _marks.clear()
    _durations.clear()


if PATH:
    mark("grader.core.phases imported")
    atexit.register(flush)


# --- pytest hooks (plain functions: pytest is not imported here) -----------------------------


def pytest_configure(config):
    mark("pytest configured")  # conftest (and torch with it) is loaded by now


def pytest_collection(session):
    mark("collection start")


def pytest_collection_finish(session):
    mark("collection done")


def pytest_runtestloop(session):
    mark("tests start")


def pytest_runtest_logreport(report):
    add(f"test {report.when}", report.duration)


def pytest_sessionfinish(session, exitstatus):
    mark("tests done")  # before the terminal summary: this hook runs first (registered last)


def pytest_unconfigure(config):
    mark("pytest unconfigured")


def pytest_make_impl(config):
    """An in-process run (`--impl`): the implementation with its calls timed, the share of
    the test loop that a sandboxed run spends inside its round trips. None in the grader."""
    spec = config.getoption("--impl", None)
    if not PATH or not spec:
        return None
    import seam

    return _TimedImpl(seam.load_in_process(spec, Path(str(config.rootpath))))


class _TimedImpl:
    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        started = time.perf_counter()
        value = getattr(self._inner, name)  # a module's first use imports it
        if isinstance(value, types.ModuleType):
            add("student import", time.perf_counter() - started)
            return _TimedModule(name, value)
        return _timed_run(value) if name == "run" else value


class _TimedModule:
    def __init__(self, name, module):
        self._name, self._module = name, module

    def __getattr__(self, name):
        value = getattr(self._module, name)
        return _timed(value, f"{self._name}.{name}") if inspect.isfunction(value) else value


def _timed(function, key):
    """`function`, its every call recorded as "call KEY" (the sandbox's RemoteImpl uses the same keys)."""

    def call(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            add(f"call {key}", time.perf_counter() - started)

    return call


def _timed_run(run):
    def timed_run(driver, /, **inputs):
        return _timed(run, f"{driver.__module__}:{driver.__qualname__}")(driver, **inputs)

    return timed_run
