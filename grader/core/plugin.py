"""Trusted side: the pytest plugin that grades.

It answers the suites' `pytest_make_impl` hook with the sandboxed implementation, gives
every test a fresh worker, and records each test's outcome as pytest saw it in THIS
process. Nothing the submission prints, returns or writes can mark a test passed: a
pass is a pytest report made here, after the test's own comparisons ran here.

Feedback: a visible (public) test shows pytest's report, which holds the smallest
failing input hypothesis found; a hidden test shows only its hint and what kind of
failure it was, never values (pytest's assertion rewriting would print the expected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.compat import BaseExceptionGroup
from grader.core.student_text import scrub, without_grader_frames
from grader.core.machine import SandboxUnavailable
from grader.core.remote import RemoteImpl
from grader.core.faults import ModuleUnavailable, SubmissionError, SubmissionFault
from seam.own_work import OwnWorkViolation
from seam import MODULES, REPO_ROOT

MAX_VISIBLE_OUTPUT = 6000
# What pytest keeps of a failed test's report until the session ends (its terminal reporter holds
# every one): an assertion message may hold the repr of a reply (a tuple of 500,000 tensors is 17 MB).
MAX_KEPT_REPORT = 20_000


@dataclass
class Case:
    """One collected test case (one parametrization of a test function)."""

    nodeid: str
    key: str  # "hidden/test_strides_hidden.py::test_view_matches_torch"
    module: str  # the problem, from the test's marker
    hint: str
    visible: bool
    outcome: str = "not run"  # passed / failed / skipped / not run
    message: str = ""
    seconds: float = 0.0


@dataclass(eq=False)  # pytest keeps plugins in sets
class GradingPlugin:
    impl: RemoteImpl
    cases: dict[str, Case] = field(default_factory=dict)
    progress: Path | None = None  # one line per finished test ("total N" first): the batch driver's progress bar
    grader_failure: str | None = None  # the sandbox failed (not the submission): no grade may come of this run

    def _progress(self, line: str) -> None:
        if self.progress is not None:
            self.progress.parent.mkdir(parents=True, exist_ok=True)
            with open(self.progress, "a") as out:
                out.write(line + "\n")

    @pytest.hookimpl
    def pytest_make_impl(self, config):
        return self.impl

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        for item in items:
            self.cases[item.nodeid] = _case_for(item)
        self._progress(f"total {len(items)}")
        # Every public test runs before any hidden one, so what the code prints can be shown
        # up to the first hidden test and kept for staff after it (grader/core/output_capture.py);
        # within each half, one problem's tests run back to back and share a worker.
        problem_order = {module: rank for rank, module in enumerate(MODULES)}
        items.sort(key=lambda item: (not self.cases[item.nodeid].visible, problem_order.get(self.cases[item.nodeid].module, len(MODULES))))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        case = self.cases[item.nodeid]
        self.impl.begin_test(item.nodeid, case.module, case.visible)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid, location):
        case = self.cases.get(nodeid)
        self.impl.end_test(passed=case is not None and case.outcome in ("passed", "skipped"))
        self._progress(case.outcome if case is not None else "not run")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        case = self.cases.get(item.nodeid)
        if case is None:
            return
        case.seconds += report.duration
        if call.excinfo is not None and isinstance(call.excinfo.value, SandboxUnavailable):
            self.grader_failure = str(call.excinfo.value)
            item.session.shouldstop = "the sandbox failed"  # every later test would fail the same way
        if report.skipped and case.outcome != "failed":
            case.outcome = "skipped"
            case.message = _skip_reason(report)
        elif report.failed:
            case.outcome = "failed"
            case.message = _failure_message(case, call, report)
            report.longrepr = _tail(report.longreprtext, MAX_KEPT_REPORT)
        elif report.passed and report.when == "call" and case.outcome == "not run":
            case.outcome = "passed"


def _case_for(item) -> Case:
    path = Path(str(item.path)).resolve().relative_to(REPO_ROOT / "tests")
    name = getattr(item, "originalname", None) or item.name.split("[")[0]
    modules = [m.name for m in item.iter_markers() if m.name in MODULES]
    doc = (getattr(item, "function", None).__doc__ or "").strip() if hasattr(item, "function") else ""
    return Case(
        nodeid=item.nodeid,
        key=f"{path.as_posix()}::{name}",
        module=modules[0] if modules else "",
        hint=" ".join(doc.split("\n\n")[0].split()),
        visible=path.parts[0] == "public",
    )


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"[... {len(text) - limit} characters cut]\n{text[-limit:]}"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return "skipped"


def _failure_message(case: Case, call, report) -> str:
    """What the student reads; for a hidden test, never a value the test computed."""
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, OwnWorkViolation):  # the rule, the student's own line: nothing of the test's
        return f"own-work rule: {error}"
    if case.visible:
        kind = _kind_of_failure(error, report.when)
        if isinstance(error, ModuleUnavailable):  # a module that did not import: the kind says it all
            return kind
        return f"{kind}\n\n{scrub(without_grader_frames(report.longreprtext))[-MAX_VISIBLE_OUTPUT:]}"
    kind = _kind_of_hidden_failure(error) or _kind_of_failure(error, report.when)
    return f"{kind} (a hidden test shows no values)" if kind == "wrong result" else kind


# In a hidden test, what the submission controls carries no text or number of its own: an
# exception's message, an exit status or a refused reply's size could spell out the test's inputs.
HIDDEN_FAULTS = {
    "timeout": "the call ran over its time limit and was stopped",
    "crash": "the process running your code ended (it crashed, exited or was killed)",
    "unsafe-result": "the grader refused what your code returned (not plain data, or too big)",
}


def _kind_of_hidden_failure(error: BaseException | None) -> str | None:
    if isinstance(error, ModuleUnavailable):  # the trusted side's words only, never the worker's
        return error.hidden
    if _is_pytest_failure(error):  # "DID NOT RAISE <class 'IndexError'>" would name what the test expected
        return "wrong result (a hidden test shows no values)"
    if isinstance(error, SubmissionFault):
        return HIDDEN_FAULTS.get(error.flag, "your code's call failed")
    if isinstance(error, SubmissionError):
        return "your code raised an exception (a hidden test shows no messages)"
    if getattr(error, "from_submission", False):
        return f"your code raised {type(error).__name__} (a hidden test shows no messages)"
    return None


def _kind_of_failure(error: BaseException | None, when: str) -> str:
    if error is None:
        return f"failed during {when}"
    if isinstance(error, (SubmissionFault, SubmissionError)):
        return str(error)
    if getattr(error, "from_submission", False):
        first_line = (str(error).splitlines() or [""])[0][:500]
        return f"your code raised {type(error).__name__}: {first_line}"
    if isinstance(error, AssertionError):
        return "wrong result"
    if _is_pytest_failure(error):  # pytest.fail() or pytest.raises' "DID NOT RAISE <class 'ValueError'>"
        return f"wrong result: {(str(error).splitlines() or [''])[0][:300]}"
    if type(error).__module__.startswith("hypothesis"):
        return f"the test could not be completed ({type(error).__name__}: is your code deterministic?)"
    if isinstance(error, NotImplementedError):
        return "not implemented yet"
    return f"your code's result could not be checked (the test raised {type(error).__name__})"


def _is_pytest_failure(error: BaseException | None) -> bool:
    """pytest's own failure (pytest.fail, pytest.raises that saw no exception): a test's verdict, not a crash."""
    return error is not None and type(error).__name__ == "Failed" and type(error).__module__.startswith("_pytest")
