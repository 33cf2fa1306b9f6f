"""Drive sandboxes directly, outside pytest (the zygote refuses to fork from a process that
has pytest loaded): what tests/project/test_walls.py and test_each.py run in subprocesses.

    python -m tests.project.walls_driver hold SUBMISSION READY DONE
        start a sandbox, import the submission in two workers one after the other, print what
        each found, touch READY, keep the sandbox (its objects) alive until DONE exists
    python -m tests.project.walls_driver probe SUBMISSION
        start a sandbox, import the submission once, print what it found
    python -m tests.project.walls_driver broken-worker SUBMISSION
        the same, with every worker failing before its walls are up: print what was raised
    python -m tests.project.walls_driver last-worker SUBMISSION
        start a sandbox (weak ones allowed), import the submission once, close the sandbox: print
        whether that worker still runs once close() has returned
    python -m tests.project.walls_driver each SUBMISSION
        start a sandbox, make `impl.each` batches of the submission's tensors.ok/boom/leave
        (tests/project/test_each.py writes them), print what each answer was and what was called

Each prints one JSON object on its last line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from grader.core.limits import Limits
from grader.core.sandbox import Sandbox
from grader.core.suites import QUICKEST

LIMITS = Limits(call_seconds=20, test_seconds=60, submission_seconds=120)
FOUND = {"op": "call", "module": "tensors", "function": "leaks_found_at_import", "args": [], "kwargs": {}}


def found_in_a_fresh_worker(sandbox: Sandbox) -> list:
    sandbox.fresh_worker()
    return sandbox.request(FOUND, None)


def hold(submission: Path, ready: Path, done: Path) -> dict:
    sandbox = Sandbox(submission, LIMITS)
    sandbox.start()
    try:
        first = found_in_a_fresh_worker(sandbox)
        second = found_in_a_fresh_worker(sandbox)  # the same submission's leftovers: must be seen
        ready.touch()
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"first": first, "second": second}
    finally:
        sandbox.close()


def probe(submission: Path) -> dict:
    sandbox = Sandbox(submission, LIMITS)
    sandbox.start()
    try:
        return {"found": found_in_a_fresh_worker(sandbox)}
    finally:
        sandbox.close()


def broken_worker(submission: Path) -> dict:
    from grader.worker import jail

    def fail(limits, uid):
        raise OSError("injected: the worker's walls could not be raised")

    jail.limit_process = fail  # the zygote is forked from this process: its workers inherit it
    sandbox = Sandbox(submission, LIMITS)
    sandbox.start()
    try:
        found_in_a_fresh_worker(sandbox)
    except Exception as error:
        return {"raised": type(error).__name__, "message": str(error)}
    finally:
        sandbox.close()
    return {"raised": None}


def last_worker(submission: Path) -> dict:
    sandbox = Sandbox(submission, LIMITS, allow_weak=True)
    sandbox.start()
    try:
        sandbox.request({"op": "import", "module": QUICKEST}, None)  # a worker, forked for it
        worker = sandbox._pid  # a pid of this machine's where there is no pid namespace
        level = sandbox.level
    finally:
        sandbox.close()
    return {"level": level, "running_after_close": running(worker)}


def running(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie does not: its parent died, and an init that reaps
    nothing, as in some containers, leaves it listed). test_service asks it too."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def each(submission: Path) -> dict:
    from grader.core.remote import RemoteImpl

    sandbox = Sandbox(submission, LIMITS)
    sandbox.start()
    try:
        impl = RemoteImpl(sandbox)
        impl.begin_test("tests/project/test_each.py::batch", "tensors", visible=True)
        t = impl.tensors
        raised = impl.each((t.ok, 1), (t.boom, 2), (t.ok, 3))
        exited = impl.each((t.ok, 5), (t.leave, 6), (t.ok, 7))
        return {
            "raised": [_answer(raised, i) for i in range(len(raised))],
            "exited": [_answer(exited, i) for i in range(len(exited))],
            "made": t.made(),  # the same worker: what the batches called, in order
            "flags": sorted({flag["kind"] for flag in sandbox.flags.entries()}),
        }
    finally:
        sandbox.close()


def _answer(answers, index: int) -> list:
    try:
        return ["value", answers[index]]
    except Exception as error:
        return ["raised", type(error).__name__, str(error)]


def main(argv: list[str]) -> None:
    mode, submission, *rest = argv
    if mode == "hold":
        outcome = hold(Path(submission), Path(rest[0]), Path(rest[1]))
    elif mode == "probe":
        outcome = probe(Path(submission))
    elif mode == "last-worker":
        outcome = last_worker(Path(submission))
    elif mode == "each":
        outcome = each(Path(submission))
    else:
        outcome = broken_worker(Path(submission))
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(sys.argv[1:])
