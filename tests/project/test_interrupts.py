"""Ctrl-C and SIGTERM stop `grade` at once, say what was kept and how to resume; output stays under --out.

Two copies of the reference, graded one at a time (`--jobs 1`) from a folder outside the checkout
with a relative `--out`, as a TA in their course folder would: Ctrl-C once the first is recorded
and the second is being graded, SIGTERM while the second is graded again, then the same command
to the end. Each stop must come within a few seconds (it kills the grading in flight rather than
waiting for it), exit 128 + the signal, print no traceback, and leave the gradebook whole.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core import variants

from grader.core.machine import isolation_level
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.timeout(900)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

COMMAND = [sys.executable, "-m", "grader", "grade", "class", "--out", "out", "--only", QUICKEST, "--skip-canary", "--jobs", "1"]
STOP_WITHIN = 1.0  # seconds, as the issue asks (measured: 0.1 s, the machine at a load of 6)


def graded(course: Path) -> list[str]:
    book = course / "out" / "gradebook.sqlite"
    if not book.exists():
        return []
    try:
        with sqlite3.connect(book) as db:
            return [row[0] for row in db.execute("SELECT student FROM submissions WHERE status = 'graded' ORDER BY student")]
    except sqlite3.OperationalError:  # the driver is still creating it
        return []


def wait_for(condition, seconds: float = 400) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def start(course: Path) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "100"}
    return subprocess.Popen(COMMAND, cwd=course, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def grading_processes(course: Path, wait: float = 10.0) -> list[int]:
    """Pids whose command line names the class (the grading subprocesses), after up to `wait` s."""
    stop_at = time.monotonic() + wait
    while True:
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(course / "class") in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
        if not pids or time.monotonic() > stop_at:
            return pids
        time.sleep(0.2)


def stop(process: subprocess.Popen, signum: int) -> tuple[float, str, str]:
    sent = time.monotonic()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    return time.monotonic() - sent, stdout, stderr


@needs_sandbox
def test_ctrl_c_and_sigterm_stop_at_once_keep_what_was_recorded_and_say_how_to_resume(tmp_path):
    course = tmp_path / "course"
    for student in ("a1", "a2"):
        variants.reference_into(course / "class" / student)
    in_checkout_before = set(REPO_ROOT.rglob("progress.log"))

    first = start(course)
    wait_for(lambda: graded(course) == ["a1"] and (course / "out" / "a2" / "progress.log").exists())
    took, stdout, stderr = stop(first, signal.SIGINT)
    assert first.returncode == 130 and took < STOP_WITHIN, (first.returncode, took, stdout[-2000:], stderr[-2000:])
    said = " ".join(stdout.split())
    assert "Stopped (Ctrl-C). Kept: 1 submission(s) graded in this run are recorded in out/gradebook.sqlite" in said, said[-1500:]
    assert "not graded in this run: 1" in said and "To resume, run the same command again" in said
    assert f"python -m grader grade class --out out --only {QUICKEST} --skip-canary --jobs 1" in said
    assert "Traceback" not in stdout + stderr
    assert not grading_processes(course), "the grading in flight outlived the stop"

    assert not (course / "out" / "a2" / "progress.log").exists()  # the stopped grade's counts went with it
    second = start(course)
    wait_for(lambda: (course / "out" / "a2" / "progress.log").exists())
    took, stdout, stderr = stop(second, signal.SIGTERM)
    assert second.returncode == 143 and took < STOP_WITHIN, (second.returncode, took, stdout[-2000:], stderr[-2000:])
    assert "Stopped (SIGTERM). Kept: 0 submission(s)" in " ".join(stdout.split()) and "Traceback" not in stdout + stderr
    assert graded(course) == ["a1"] and not grading_processes(course)

    third = start(course)
    stdout, stderr = third.communicate(timeout=600)
    assert third.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert "1 to grade, 1 already graded" in " ".join(stdout.split()) and graded(course) == ["a1", "a2"]

    assert set(REPO_ROOT.rglob("progress.log")) == in_checkout_before, "progress files landed in the checkout"
    assert sorted(p.name for p in course.iterdir()) == ["class", "out"], "something was written outside --out"
