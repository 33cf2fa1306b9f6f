"""What the tests see: the implementation under test living in the sandbox, plain data in, plain data out.

`RemoteImpl` gives the same `impl.module.function(...)`, `impl.each(...)` and
`impl.run(driver, ...)` as the in-process backend (seam/), every call crossing as plain data,
each test under its time budgets, the own-work rules read from the staged copy before any
call is sent.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

from grader.core import phases
import seam
from seam import own_work
from grader.core.faults import CallTimedOut, ModuleUnavailable, SubmissionError, SubmissionFault, as_exception
from grader.core.machine import SandboxUnavailable
from grader.core.sandbox import Sandbox

HUNG_LEASH_SECONDS = 2.0  # the time limit of a call to a function that already hung once
# A call whose function answered within this last time polls for its reply this long before
# sleeping (grader/core/sandbox.py's _Deadline); one that took longer sleeps at once, so slow
# functions cost no polling. Half the reference's calls answer within it.
REPLY_SPIN_SECONDS = 0.0002
MAX_CALLS_PER_REQUEST = 64  # impl.each: calls sent in one round trip


class RemoteImpl:
    """The implementation under test, living in the sandbox; plain data in, plain data out."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox
        self.label = f"the submission {sandbox.submission.name} (sandboxed)"
        self._test: str | None = None
        self._poison: SubmissionFault | None = None
        self._test_started = 0.0
        self._problem: str | None = None
        self._stale = True
        # Time is budgeted per problem, so hangs in one problem cannot starve the others;
        # a function that hung once gets a short leash after (a hang costs seconds per case).
        self._spent: dict[str, float] = {}
        self._slowest_ok: dict[str, float] = {}
        self._last_took: dict[str, float] = {}  # what each function's last call took: polled for if quick
        self._hung: set[str] = set()
        # module -> why it cannot be imported (what a public test shows, what a hidden one shows):
        # raised again without a round trip, so a syntax error costs each of its tests
        # milliseconds, not a hypothesis search of failures.
        self.unavailable: dict[str, tuple[str, str]] = {}
        # The own-work rules, read here from the staged copy (never from the worker): a test that
        # reaches a function breaking its rule fails before any call is sent.
        self.own_work = own_work.Checker(self.sources)
        # What the submission answered, for misconception hints (grader/core/replies.py): set by grade_one.
        self.replies = None
        self._visible = False

    def begin_test(self, nodeid: str, problem: str, visible: bool = False) -> None:
        """A test gets a fresh worker unless the previous test passed in the same problem.

        So nothing a failing, crashing or hanging test left behind reaches another test,
        and no problem's tests share a worker with another problem's; passing tests of
        one problem share one (a fork per test case would cost more than the tests).
        """
        self._test, self._poison, self._test_started, self._visible = nodeid, None, time.monotonic(), visible
        self._sandbox.budget.new_test()  # what replies may make this process hold: per test, and in all
        if not visible:
            self._sandbox.hidden_tests_begin()  # before this test's first call: its output is staff-only
        if problem in self.unavailable:
            raise ModuleUnavailable(*self.unavailable[problem])
        if self._stale or problem != self._problem:
            # A SandboxUnavailable here is the grader's failure: the plugin stops the run, scores nobody.
            self._sandbox.fresh_worker()
            if problem != self._problem and problem in seam.MODULES and problem not in self.unavailable:
                self._probe_import(problem)
            self._stale, self._problem = False, problem
        if problem in self.unavailable:
            raise ModuleUnavailable(*self.unavailable[problem])

    def _probe_import(self, module: str) -> None:
        """The trusted side's own probe: a fresh worker, asked to import `module` before any test's
        input reaches it. An error reply (of any type: a type name proves nothing) makes the module
        unavailable; a crash or a hang does not (each test meets it, and its flag, itself)."""
        try:
            self._timed_request({"op": "import", "module": module}, f"{module} (import)")
        except SandboxUnavailable:
            raise
        except SubmissionFault:
            self._poison = None
        except Exception as error:
            self._poison = None
            self.unavailable[module] = self._why_unavailable(module, error)

    def _why_unavailable(self, module: str, error: Exception) -> tuple[str, str]:
        """(what a public test shows, what a hidden one shows): the worker's words only where no
        hidden test has run yet, the trusted side's own diagnosis wherever it has one."""
        found = import_diagnosis(module, self._sandbox.sources)
        if found is not None:
            return found, found
        hidden = f"assignment/{module}.py failed to import (a hidden test shows no messages; the public tests' feedback says why)"
        if self._sandbox.in_hidden_tests():
            return hidden, hidden
        said = _import_problem(str(error))[:MAX_IMPORT_MESSAGE_CHARS]
        return (said if said.startswith(f"assignment/{module}.py") else f"assignment/{module}.py failed to import: {said}"), hidden

    def end_test(self, passed: bool) -> None:
        if not passed:
            self._stale = True

    def _request(self, message: dict, key: str) -> Any:
        if self.replies is None:
            return self._send(message, key)
        try:
            value = self._send(message, key)
        except Exception as error:
            self.replies.record(message, self._problem, self._visible, error=error, test=self._test)
            raise
        self.replies.record(message, self._problem, self._visible, value=value, test=self._test)
        return value

    def _send(self, message: dict, key: str, calls: int = 1) -> Any:
        for module in [message.get("module")] + [call["module"] for call in message.get("calls", ())]:
            if module in self.unavailable:
                raise ModuleUnavailable(*self.unavailable[module])
        return self._timed_request(message, key, calls)

    def each(self, *calls: tuple) -> seam.Answers:
        """`(impl.tensors.max_finite, fmt), (impl.tensors.smallest_normal, fmt)`: the calls made in
        order in one round trip, their answers as seam.Answers (a call that raised raises where the
        test reaches its answer). Each call is recorded for the hints as if made alone; a timeout
        or a crash fails the whole `each` (the round trip ended without answers)."""
        if not 0 < len(calls) <= MAX_CALLS_PER_REQUEST:
            raise ValueError(f"impl.each takes 1 to {MAX_CALLS_PER_REQUEST} calls, not {len(calls)}")
        requests = [self._call_request(function, args) for function, *args in calls]
        keys = [f"{request['module']}.{request['function']}" for request in requests]
        key = " + ".join(dict.fromkeys(keys))
        outcomes = self._send({"op": "calls", "calls": requests}, key, len(requests))
        if not _well_formed(outcomes, len(requests)):
            raise SubmissionError("the worker sent a malformed reply")
        for each_key in keys:
            phases.add(f"call {each_key}", self._last_took[key] / len(keys))
        values, error = [], None
        for request, outcome in zip(requests, outcomes):
            value = outcome.get("value") if outcome["ok"] else None
            if outcome["ok"]:
                values.append(value)
            else:
                error = as_exception(outcome.get("error"), self._sandbox, self._test)
            if self.replies is not None:
                self.replies.record(request, self._problem, self._visible, value=value, error=error, test=self._test)
        return seam.Answers(values, len(requests), error)

    def _call_request(self, function: Callable[..., Any], args: list) -> dict:
        impl, module, name = getattr(function, "remote", (None, None, None))
        if impl is not self:
            raise TypeError(f"impl.each takes this implementation's functions (impl.module.function), not {function!r}")
        return {"op": "call", "module": module, "function": name, "args": list(args), "kwargs": {}}

    def _timed_request(self, message: dict, key: str, calls: int = 1) -> Any:
        if self._poison is not None:
            raise type(self._poison)(f"{self._poison} (earlier in this test; not retried)")
        limits = self._sandbox.limits
        if time.monotonic() - self._test_started > limits.test_seconds:
            self._poison = CallTimedOut(f"this test's time limit ({limits.test_seconds:.0f} s) is spent")
            raise self._poison
        problem_left = limits.submission_seconds / len(seam.MODULES) - self._spent.get(self._problem, 0.0)
        if problem_left <= 0:
            self._poison = CallTimedOut(f"this problem's share of the time limit ({limits.submission_seconds / len(seam.MODULES):.0f} s) is spent")
            raise self._poison
        timeout = min(limits.call_seconds * calls, problem_left)  # each call of a batch has a call's time
        if key in self._hung:
            timeout = min(timeout, max(HUNG_LEASH_SECONDS, 20 * self._slowest_ok.get(key, 0.0)))
        spin = REPLY_SPIN_SECONDS if self._last_took.get(key, 0.0) <= REPLY_SPIN_SECONDS else 0.0
        started = time.monotonic()
        try:
            value = self._sandbox.request(message, self._test, timeout, spin)
        except SubmissionFault as fault:
            self._poison = fault
            if isinstance(fault, CallTimedOut):
                self._hung.add(key)
            raise
        finally:
            elapsed = self._last_took[key] = time.monotonic() - started
            self._spent[self._problem] = self._spent.get(self._problem, 0.0) + elapsed
            if calls == 1:
                phases.add(f"call {key}", elapsed)  # a batch's: per call, by `each`
        self._slowest_ok[key] = max(self._slowest_ok.get(key, 0.0), elapsed)
        return value

    def __getattr__(self, module: str) -> "_RemoteModule":
        if module.startswith("_") or module not in seam.MODULES:
            raise AttributeError(f"an implementation has no module {module!r}; it has {seam.MODULES}")
        remote = _RemoteModule(self, module)
        setattr(self, module, remote)  # found directly from now on
        return remote

    def run(self, driver: Callable[..., Any], /, **inputs: Any) -> Any:
        """Run one of our drivers next to the implementation; a `fresh_process` one in a new worker."""
        name = f"{driver.__module__}:{driver.__qualname__}"
        if not driver.__module__.startswith("tests.drivers."):
            raise ValueError(f"{name} is not a driver (they live in tests/drivers/)")
        self.own_work.check_driver(driver, inputs)
        if getattr(driver, "fresh_process", False):
            self._sandbox.fresh_worker(fresh_scratch=True)
        return self._request({"op": "run", "driver": name, "kwargs": inputs}, name)

    def source(self, name: str) -> str:
        """The module's text as submitted (read before any of it ran)."""
        if name not in self._sandbox.sources:
            raise FileNotFoundError(f"assignment/{name}.py is missing from the submission")
        return self._sandbox.sources[name]

    def sources(self) -> dict[str, str]:
        """Every module as submitted, by name (the staged copy's top-level .py files)."""
        return dict(self._sandbox.sources)

    def __repr__(self) -> str:
        return f"<{self.label}>"


MAX_IMPORT_MESSAGE_CHARS = 500


def _well_formed(outcomes: Any, asked: int) -> bool:
    """A "calls" reply: one outcome per call, in order, all answered but a last that raised."""
    if type(outcomes) is not list or not 0 < len(outcomes) <= asked:
        return False
    if any(type(o) is not dict or type(o.get("ok")) is not bool for o in outcomes):
        return False
    return all(o["ok"] for o in outcomes[:-1]) and (len(outcomes) == asked or not outcomes[-1]["ok"])


def import_diagnosis(module: str, sources: dict[str, str]) -> str | None:
    """Why `module` cannot be imported, found here from the staged source without running it
    (missing, or a syntax error); None when only running it would tell."""
    if module not in sources:
        return f"assignment/{module}.py is missing"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are the student's business, not the grader's log
            compile(sources[module], f"assignment/{module}.py", "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"assignment/{module}.py failed to import: {type(error).__name__}: {error.msg} (line {error.lineno})"
    except Exception:  # MemoryError, RecursionError, null bytes: the worker's probe says more
        return None
    return None


def _import_problem(message: str) -> str:
    """"the submission: assignment/x.py is missing" -> "assignment/x.py is missing" (the student's words)."""
    return message.split(": ", 1)[-1] if message.startswith("the submission: ") else message


class _RemoteModule:
    def __init__(self, impl: RemoteImpl, name: str):
        self._impl, self._name = impl, name

    def __getattr__(self, function: str) -> Callable[..., Any]:
        if function.startswith("__"):
            raise AttributeError(function)
        self._impl.own_work.check(self._name, function)

        def call(*args: Any, **kwargs: Any) -> Any:
            message = {"op": "call", "module": self._name, "function": function, "args": list(args), "kwargs": kwargs}
            return self._impl._request(message, f"{self._name}.{function}")

        call.__name__ = call.__qualname__ = f"{self._name}.{function}"
        call.remote = (self._impl, self._name, function)  # what impl.each sends
        setattr(self, function, call)
        return call
