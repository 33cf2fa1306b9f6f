"""`grade --executor ray --address ADDR` on a real Ray cluster started here (`ray start --head`).

Skipped where Ray is not installed (it is the optional `ray` extra). The cluster is a head
node on 127.0.0.1 in its own process group, stopped by this test (never `ray stop`, which
would stop every Ray on the machine).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core import variants
from grader.staff.grading.gradebook import Gradebook
from grader.core.machine import isolation_level
from seam import REPO_ROOT

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.project,
    pytest.mark.e2e,
    pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cluster(tmp_path_factory):
    """A one-node Ray cluster: the address to pass to --address, and the environment to reach it."""
    port = free_port()
    temp = Path("/tmp") / f"ray-grader-{os.getpid()}"  # Ray's socket paths must stay short
    # Ray's token authentication, with a token of this test's (not whatever ~/.ray holds).
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    head = subprocess.Popen(
        [shutil.which("ray") or "ray", "start", "--head", "--block", f"--port={port}",
         "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
    )
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        _stop_group(head)
        shutil.rmtree(temp, ignore_errors=True)


def _stop_group(head: subprocess.Popen) -> None:
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)  # Ray's own processes share the group; some ignore SIGTERM for a while
    except ProcessLookupError:
        pass
    head.wait()


def test_ray_executor_grades_on_the_cluster_and_the_driver_records(cluster, tmp_path):
    address, env = cluster
    klass = tmp_path / "class"
    variants.reference_into(klass / "ref")
    mutant = next(m for m in variants.load_mutants() if m.module == "tensors" and not m.cuda_only)
    mutant.build(klass / "mutant")
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "grader", "grade", str(klass), "--out", str(out), "--only", "tensors",
        "--executor", "ray", "--address", address, "--call-timeout", "8", "--test-timeout", "30",
    ]
    started = time.monotonic()
    while True:  # the head takes a few seconds to accept drivers
        finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env)
        if finished.returncode == 0 or time.monotonic() - started > 90 or "Ray cluster" in finished.stdout:
            break
        time.sleep(3)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "Executor: Ray cluster with 2 CPU(s)" in finished.stdout
    book = Gradebook(out / "gradebook.sqlite")
    ref, bad = book.submission("ref"), book.submission("mutant")
    assert ref["status"] == bad["status"] == "graded"
    assert ref["score"] == ref["max_score"] > 0
    assert bad["score"] < bad["max_score"]
    assert (out / "mutant" / "results.json").is_file()  # written by the driver from what the task returned
    assert {t["module"] for t in book.tests("ref")} == {"tensors"}
