"""Nothing of a submission outlives its grading, however the run ends; no two sandboxes share a uid.

A run stopped by SIGTERM removes its staged copy and sandbox folder before it dies; one stopped
by kill -9 cannot, so the next run removes them, but never those of a grader still running
beside it (each folder's lock file is held by its owner while it lives: grader/core/leases.py).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core import variants

from grader.core import leases
from grader.core.machine import isolation_level
from seam import REPO_ROOT

pytestmark = pytest.mark.project

HOLD = """
import sys, time
from pathlib import Path
from grader.core import leases
if sys.argv[1] == "folder":
    print(leases.work_folder(Path(sys.argv[2]), "sandbox-"), flush=True)
else:
    print(leases.worker_uid(Path(sys.argv[2])).uid, flush=True)
time.sleep(float(sys.argv[3]))
"""


def holder(what: str, where: Path, seconds: float) -> tuple[subprocess.Popen, str]:
    """Another grader process holding a folder or a uid for `seconds` (0: it ends at once, without cleaning up)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, what, str(where), str(seconds)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def test_a_sweep_removes_what_ended_runs_left_and_nothing_a_live_grader_holds(tmp_path):
    dead, dead_folder = holder("folder", tmp_path, 0)
    dead.wait(30)
    alive, alive_folder = holder("folder", tmp_path, 60)
    try:
        mine = leases.work_folder(tmp_path, "sandbox-")
        unlocked = tmp_path / "sandbox-without-a-lock"  # an older grader's, or one being made: not ours to judge
        unlocked.mkdir()
        (Path(dead_folder) / "submission").mkdir()
        (Path(dead_folder) / "submission" / "tensors.py").write_text("student code")
        assert leases.sweep(tmp_path, "sandbox-") == [Path(dead_folder)]
        assert not Path(dead_folder).exists() and Path(alive_folder).is_dir() and mine.is_dir() and unlocked.is_dir()
        leases.remove_folder(mine)
        assert not mine.exists()
    finally:
        alive.kill()
        alive.wait()
    assert leases.sweep(tmp_path, "sandbox-") == [Path(alive_folder)]  # its grader ended: now it goes


def test_worker_uids_are_unique_among_live_sandboxes_whatever_their_pids(tmp_path):
    """The old rule, 200000 + pid % 100000, gave pids 31072 and 131072 one uid (pid_max is 4194304 on many machines)."""
    other, held = holder("uid", tmp_path, 60)
    try:
        first, second = leases.worker_uid(tmp_path), leases.worker_uid(tmp_path)
        assert len({int(held), first.uid, second.uid}) == 3
        assert all(leases.FIRST_WORKER_UID <= uid < leases.FIRST_WORKER_UID + leases.WORKER_UIDS for uid in (first.uid, second.uid))
        first.release()
        assert leases.worker_uid(tmp_path).uid == first.uid  # given back, taken again
    finally:
        other.kill()
        other.wait()
    assert leases.worker_uid(tmp_path).uid == int(held)  # its sandbox ended: free again


@pytest.mark.timeout(300)
@pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_stopped_run_leaves_no_copy_of_student_code(how, tmp_path):
    """Stopped mid-grade: SIGTERM removes the staged copy and the sandbox folder before the run dies;
    after kill -9 the next run's sweep removes them."""
    work, temp = tmp_path / "work", tmp_path / "temp"
    temp.mkdir()
    submission = tmp_path / "sub"
    variants.reference_into(submission)
    env = {**os.environ, "GRADER_WORK_DIR": str(work), "TMPDIR": str(temp)}
    command = [sys.executable, "-m", "grader.core.grade", str(submission), str(tmp_path / "r.json"), json.dumps({"call_seconds": 8}), "0", "tensors"]
    run = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(work.glob("sandbox-*/submission/assignment/*.py")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(temp.glob("grade-*/staged/assignment/*.py")), run.stderr.read()[-3000:] if run.poll() is not None else "no staged copy"
    run.send_signal(getattr(signal, how))
    run.wait(60)
    assert run.returncode == -getattr(signal, how)  # it still dies of the signal, as a caller expects
    left = sorted(p.name for p in [*work.glob("sandbox-*"), *temp.glob("grade-*")])
    if how == "SIGTERM":
        assert left == []
        return
    assert len(left) == 2  # nothing could run at kill -9
    assert leases.sweep(work, "sandbox-") and leases.sweep(temp, "grade-")
    assert not [*work.glob("sandbox-*"), *temp.glob("grade-*")]
