"""`grade --executor ray` on a real Ray cluster: a head and two worker nodes started on this machine
with `ray start`, as the README's "Grading on a Ray cluster" tells staff to.

Skipped where Ray is not installed (the optional `ray` extra; `.ci/run` installs it). Each `ray start`
returns once its node is up, leaving the node's processes in a process group of their own, which this
test ends with SIGKILL (never `ray stop`, which would stop every Ray on the machine). The head offers
no CPU, so every submission is graded on a worker node.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core import results, variants
from grader.core.machine import isolation_level
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.project,
    pytest.mark.e2e,
    pytest.mark.slow,  # the cluster's start and two gradings of a class of four: about a minute on 2 cores
    pytest.mark.xdist_group("ray"),
    pytest.mark.timeout(600),
    pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces"),
]

WORKER_NODES = 2
# A small object store per node: the default (30% of memory each) is not reserved, but a container's
# /dev/shm may be far smaller than that.
NODE_OPTIONS = ["--num-gpus=0", "--object-store-memory=100000000", "--disable-usage-stats"]
PROBLEM = QUICKEST
SCOPE = ["--only", PROBLEM, "--call-timeout", "8", "--test-timeout", "30", "--skip-canary"]  # the canary has its own tests
# What two gradings of the same class may differ in: when and how long (the `results` column holds
# execution_time and the hint seed, drawn per grade; each results.json is compared below without
# what differs from run to run, results.without_run_details).
SUBMISSION_COLUMNS = "student, status, submission_sha256, suite_version, grader_version, scope, score, max_score, integrity_flags, faults, error"
TEST_COLUMNS = "student, test_key, module, points, max_points, status, output"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The `ray` command of the environment running the tests (a venv's bin/ need not be on PATH).
RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray") or "ray"


def start_node(arguments: list[str], env: dict, groups: list[int]) -> None:
    """`ray start`, in a new session: it returns once the node is up; its processes stay in the
    group (added to `groups` first, so that a failed start is ended too)."""
    node = subprocess.Popen(
        [RAY, "start", *arguments, *NODE_OPTIONS],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env, text=True,
    )
    groups.append(node.pid)
    said = node.communicate(timeout=120)[0]
    assert node.returncode == 0, f"`ray start {' '.join(arguments)}` failed:\n{said[-3000:]}"


def cluster_cpus(address: str, env: dict) -> float:
    """The cluster's CPUs as `ray status` reports them (0 while the head is not up)."""
    status = subprocess.run([RAY, "status", f"--address={address}"], capture_output=True, text=True, env=env, timeout=60)
    for line in status.stdout.splitlines():
        if line.strip().endswith(" CPU") and "/" in line:  # " 0.0/2.0 CPU"
            return float(line.split("/")[1].split()[0])
    return 0.0


@pytest.fixture(scope="module")
def cluster():
    """A head (no CPU of its own) and two worker nodes of one CPU each: the address, and the environment to reach it."""
    address = f"127.0.0.1:{free_port()}"
    temp = Path("/tmp") / f"ray-grader-{os.getpid()}"  # Ray's socket paths must stay short
    # Ray's token authentication, with a token of this test's (not whatever ~/.ray holds).
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    groups: list[int] = []
    try:
        start_node(["--head", f"--port={address.split(':')[1]}", "--num-cpus=0", "--include-dashboard=false", f"--temp-dir={temp}"], env, groups)
        for cpus in range(1, WORKER_NODES + 1):  # one at a time: two nodes starting at once on one machine stall
            start_node([f"--address={address}", "--num-cpus=1"], env, groups)
            deadline = time.monotonic() + 120
            while cluster_cpus(address, env) < cpus:  # each `ray status` costs a second of CPU: asked rarely
                assert time.monotonic() < deadline, f"the Ray cluster did not reach {cpus} CPU(s) in 120 s"
                time.sleep(1)
        yield address, env
    finally:
        for group in groups:
            end_group(group)
        shutil.rmtree(temp, ignore_errors=True)


def end_group(group: int) -> None:
    """SIGKILL to every process of a node (its `ray start` has exited; the group lives on in them).
    SIGTERM first would cost a head its ten seconds of shutting down, for nothing this test keeps."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:  # nothing of it is left
        pass


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """Four students: the reference, two mutants of the problem graded, and an upload with no code in it."""
    root = tmp_path_factory.mktemp("ray") / "class"
    variants.reference_into(root / "ref")
    for mutant in [m for m in variants.load_mutants() if m.module == PROBLEM and not m.cuda_only][:2]:
        mutant.build(root / mutant.name)
    (root / "empty").mkdir()
    (root / "empty" / "notes.txt").write_text("forgot to upload")
    return root


def grade(klass: Path, out: Path, *executor: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "grader", "grade", str(klass), "--out", str(out), *SCOPE, *executor]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=500)


def gradebook_rows(gradebook: Path) -> tuple[list, list]:
    with sqlite3.connect(gradebook) as db:
        return (
            db.execute(f"SELECT {SUBMISSION_COLUMNS} FROM submissions ORDER BY student").fetchall(),
            db.execute(f"SELECT {TEST_COLUMNS} FROM tests ORDER BY student, test_key").fetchall(),
        )


def results_file(out: Path, student: str) -> dict:
    return results.without_run_details(json.loads((out / student / "results.json").read_text()))


def test_a_class_graded_on_the_cluster_fills_the_same_gradebook_as_the_local_executor(cluster, klass, tmp_path):
    """Every student graded on a worker node; the gradebook's rows and each results.json are those of
    `--executor local` for the same class, but for timings."""
    address, env = cluster
    on_ray = grade(klass, tmp_path / "ray", "--executor", "ray", "--address", address, env=env)
    assert on_ray.returncode == 0, on_ray.stdout[-3000:] + on_ray.stderr[-3000:]
    assert f"Executor: Ray cluster with {WORKER_NODES} CPU(s)" in on_ray.stdout
    local = grade(klass, tmp_path / "local", "--executor", "local", "--jobs", "2")
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]

    submissions, tests = gradebook_rows(tmp_path / "ray" / "gradebook.sqlite")
    assert (submissions, tests) == gradebook_rows(tmp_path / "local" / "gradebook.sqlite")
    statuses = {row[0]: (row[1], row[6], row[7]) for row in submissions}  # student: (status, score, max_score)
    assert statuses["ref"][0] == "graded" and statuses["ref"][1] == statuses["ref"][2] > 0
    assert statuses["empty"][0] == "unreadable"
    mutants = [student for student in statuses if student not in ("ref", "empty")]
    assert len(mutants) == 2 and all(statuses[m][0] == "graded" and statuses[m][1] < statuses[m][2] for m in mutants)
    assert {row[2] for row in tests} == {PROBLEM}
    for student in ["ref", *mutants]:  # written by the driver from what the node's task returned
        assert results_file(tmp_path / "ray", student) == results_file(tmp_path / "local", student), student
