"""How a call into the sandbox fails, as the exceptions a test sees: the faults besides an
ordinary exception (a timeout, a worker that died, a reply refused), the submission's own
exception rebuilt from a worker's error reply, and a worker's end put in a student's words.

Raised by grader/core/sandbox.py and grader/core/remote.py; the pytest plugin
(grader/core/plugin.py) and the hints (grader/core/hints.py) tell them apart.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from grader.compat import add_note

if TYPE_CHECKING:
    from grader.core.sandbox import Sandbox


class SubmissionFault(Exception):
    """Base of the faults a call can end in besides an ordinary exception."""

    flag = "crash"


class CallTimedOut(SubmissionFault):
    flag = "timeout"


def seconds(value: float) -> str:
    """A time limit in words: whole seconds, or two digits below one (never "0 s")."""
    return f"{value:.0f} s" if value >= 1 else f"{value:.2g} s"


def stopped_call(given: float, call_seconds: float) -> str:
    """What a test says of a call stopped after `given` seconds, `call_seconds` being the call limit:
    less was given when the test's or the problem's time ran low, or the function had hung before."""
    if given >= call_seconds:
        return f"the call ran over its time limit ({seconds(given)}) and was stopped"
    return (f"the call was stopped after {seconds(given)}, all it was given (a call may take {seconds(call_seconds)}; "
            "less once its test's or problem's time runs low, or after the function hung before)")


class WorkerDied(SubmissionFault):
    flag = "crash"


class UnsafeResult(SubmissionFault):
    """A reply the trusted side refused to decode: the rest of that test is not tried."""

    flag = "unsafe-result"


class SubmissionError(Exception):
    """An exception of the submission's that has no builtin counterpart (SystemExit...)."""


class ModuleUnavailable(SubmissionError):
    """A module of the submission is missing or failed to import: every test of it fails at once.

    `str()` is what a public test shows; `hidden` what a hidden one shows: the trusted side's
    own words only (missing, a syntax error it found itself), never a text from the worker.
    """

    def __init__(self, public: str, hidden: str):
        super().__init__(public)
        self.hidden = hidden


# What a signal that ended the worker means, for a student reading it.
_SIGNAL_MEANS = {
    "SIGSEGV": "a crash: an invalid memory access", "SIGBUS": "a crash: an invalid memory access", "SIGABRT": "aborted",
    "SIGFPE": "a crash: an arithmetic fault", "SIGKILL": "stopped from outside: memory or time ran out", "SIGSYS": "a forbidden system call",
}


def ended(how: str) -> str:
    """How the worker ended (the zygote's words), as the end of "the process running your code ..."."""
    if not how.startswith("killed"):
        return how  # "exited with status 0", "closed its channel to the grader (and was ended)"
    name = how.rsplit("(", 1)[-1].rstrip(")")
    if name in _SIGNAL_MEANS and how.endswith(")"):
        how = f"{how[:-1]}, {_SIGNAL_MEANS[name]})"
    return f"was {how}"


# What an error reply may carry, as the worker's loop cuts it (grader/worker/serve.py); cut
# again here, on arrival: the worker that sends it is the student's to rewrite.
MAX_ERROR_TYPE_CHARS = 100
MAX_ERROR_MESSAGE_CHARS = 2000
MAX_ERROR_TRACEBACK_CHARS = 4000


def as_exception(error: Any, sandbox: Sandbox, test: str | None) -> BaseException:
    """The submission's exception as the nearest builtin type, so pytest.raises works.

    The builtin type is looked up by name among Python's own exceptions; the other fields are
    text for feedback, cut to their bounds. None of them decides anything else.
    """
    if not isinstance(error, dict):
        return SubmissionError("the worker sent a malformed error")
    name = _field(error, "builtin", 40)
    kind = _field(error, "type", MAX_ERROR_TYPE_CHARS)
    message = _field(error, "message", MAX_ERROR_MESSAGE_CHARS)
    if name == "MemoryError" or any(s in message.lower() for s in ("allocate memory", "out of memory")):
        sandbox.flag("memory", f"{kind}: {message[:200]}", test)
    klass = getattr(builtins, name, None)
    if not (isinstance(klass, type) and issubclass(klass, Exception)):
        klass = SubmissionError
        message = f"your code raised {kind}: {message}"
    try:
        exception = klass(message)
    except Exception:
        exception = SubmissionError(f"{kind}: {message}")
    exception.from_submission = True
    exception.submission_type = kind
    traceback_text = _field(error, "traceback", MAX_ERROR_TRACEBACK_CHARS, tail=True)
    if traceback_text:
        add_note(exception, "--- where your code raised it ---\n" + traceback_text)
    return exception


def _field(error: dict, name: str, limit: int, tail: bool = False) -> str:
    value = error.get(name, "")
    text = value if isinstance(value, str) else ""
    return text[-limit:] if tail else text[:limit]
