"""The kernel's walls around a worker (issue 9): namespaces, memory, the syscall filter, the
environment, where Python lives, the canary, the devices a worker sees.

Each end-to-end test grades through the real sandbox, one problem at a time (--only).
"""

import json
import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.core import canary, memcg, results

from grader.core import variants
from grader.commands.grade import grade_in_subprocess
from grader.core.machine import WORK_BASE, SandboxUnavailable, isolation_level, layers_for, masked_paths
from grader.core.limits import Limits
from grader.core.suites import QUICKEST
from grader.worker import jail
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.timeout(600)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")
needs_root = pytest.mark.skipif(isolation_level() != "root", reason="the memory cgroup and own uid need root")

LIMITS = Limits(call_seconds=8, test_seconds=30, submission_seconds=300)
VARIANTS = {v.name: v for v in variants.load_hostile()}


def grade(submission: Path, out: Path, modules, limits: Limits = LIMITS, pids: list[int] | None = None) -> dict:
    """The results of a grade in a fresh process (its pid appended to `pids`, where given)."""

    def track(process, running: bool) -> None:
        if running and pids is not None:
            pids.append(process.pid)

    outcome = grade_in_subprocess(submission, out / "results.json", limits, allow_weak=False, modules=modules, track=track)
    assert outcome["ok"], outcome.get("error")
    return outcome["results"]


def assert_contained(variant, data: dict) -> None:
    """The variant lost exactly what it broke, and was flagged as expected."""
    for module, (score, max_score) in results.per_problem(data).items():
        if module in variant.expect_lost:
            assert score < max_score, f"{variant.name}: {module} kept full marks despite the attack"
        else:
            lost = [t["name"] + ": " + t["output"][:300] for t in data["tests"] if t["score"] < t["max_score"]]
            assert score == max_score, f"{variant.name}: {module} lost points it earned honestly: {lost}"
    kinds = {flag["kind"] for flag in data["extra_data"]["integrity_flags"]}
    assert set(variant.expect_flags) <= kinds, f"{variant.name}: flags {sorted(kinds)}, expected {variant.expect_flags}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reference")
    variants.reference_into(folder)
    return folder


def driver(*args: str, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.project.walls_driver", *map(str, args)]
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def outcome_of(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


# --- without a sandbox: what the walls are made of ---------------------------------------


def test_devices_are_the_basic_ones_and_the_gpus_never_the_disks(tmp_path):
    dev = tmp_path / "dev"
    for name in ("null", "zero", "full", "random", "urandom", "tty", "sda", "sda1", "nvme0n1", "kmsg", "mem",
                 "nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset",
                 "nvidia-caps/nvidia-cap1", "nvidia-caps/nvidia-cap2", "dri/renderD128", "dri/card0", "shm/leftover"):
        (dev / name).parent.mkdir(parents=True, exist_ok=True)
        (dev / name).touch()
    (dev / "dri" / "by-path").mkdir()
    (dev / "dri" / "link").symlink_to(dev / "sda")
    chosen = jail.device_nodes(str(dev))
    assert chosen == [
        "null", "zero", "full", "random", "urandom", "tty",
        "nvidia-modeset", "nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidia1", "nvidiactl",
        "nvidia-caps/nvidia-cap1", "nvidia-caps/nvidia-cap2", "dri/card0", "dri/renderD128",
    ]


def test_a_machine_without_gpu_gets_no_gpu_nodes(tmp_path):
    for name in ("null", "zero", "sda"):
        (tmp_path / name).touch()
    assert jail.device_nodes(str(tmp_path)) == ["null", "zero"]


def test_driver_libraries_outside_usr_are_bound_and_those_in_usr_come_with_it():
    ldconfig = """1234 libs found in cache `/etc/ld.so.cache'
	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
	libcuda.so.1 (libc6,x86-64) => /run/nvidia/driver/lib64/libcuda.so.1
	libnvidia-ml.so.1 (libc6,x86-64) => /opt/nvidia/lib/libnvidia-ml.so.1
	libz.so.1 (libc6,x86-64) => /opt/other/libz.so.1
"""
    assert jail.driver_library_dirs(ldconfig) == ["/opt/nvidia/lib", "/run/nvidia/driver/lib64"]
    assert jail.driver_library_dirs("") == []


def test_the_worker_environment_is_an_allow_list():
    grader_env = {
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
        "CUDA_VISIBLE_DEVICES": "0", "RAY_AUTH_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "k", "GITHUB_TOKEN": "g",
        "HOME": "/root", "GRADER_WORK_DIR": "/x", "PYTHONPATH": "/work/main", "LD_PRELOAD": "/evil.so",
    }
    assert jail.worker_environment(grader_env) == {
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": "0",
    }


def test_copies_of_the_project_inside_a_python_folder_are_masked(monkeypatch, tmp_path):
    site_packages = tmp_path / "venv" / "lib" / "python3" / "site-packages"
    for name in ("solutions", "tests", "grader", "numpy"):
        (site_packages / name).mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(site_packages)])
    masked = masked_paths([str(tmp_path / "venv"), "/"])
    assert {str(site_packages / n) for n in ("solutions", "tests", "grader")} <= set(masked)
    assert str(site_packages / "numpy") not in masked
    assert os.path.realpath(REPO_ROOT) in masked  # "/" holds the checkout
    assert os.path.realpath(WORK_BASE) in masked


@needs_sandbox
def test_every_namespace_the_kernel_offers_is_the_workers():
    layers = layers_for(isolation_level())
    for name in ("netns", "pidns", "ipcns", "utsns", "mountns+chroot", "minimal-dev", "clean-env"):
        assert name in layers, layers
    if Path("/proc/self/ns/cgroup").exists() and subprocess.run(["unshare", "--cgroup", "true"]).returncode == 0:
        assert "cgroupns" in layers
    if Path("/proc/self/ns/time").exists() and subprocess.run(["unshare", "--time", "true"]).returncode == 0:
        assert "timens" in layers


# --- IPC: nothing crosses between submissions, side by side or one after the other -------------


@needs_sandbox
def test_no_byte_crosses_between_submissions_side_by_side_or_after(tmp_path):
    """One submission leaves SysV shm, a message queue, a semaphore set, POSIX shm, a POSIX queue
    and a scratch file; another grader's submission, while the first is alive and after it ended,
    finds none of them. The same submission's next worker does find them all (the probe works)."""
    variant = VARIANTS["ipc_leave_and_pick_up"]
    first, second, third = (variant.build(tmp_path / name) for name in ("first", "second", "third"))
    ready, done = tmp_path / "ready", tmp_path / "done"
    holder = driver("hold", first, ready, done)
    deadline = time.monotonic() + 120
    while not ready.exists() and holder.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), holder.communicate()[1][-3000:]
    beside = outcome_of(driver("probe", second))
    done.touch()
    held = outcome_of(holder)
    after = outcome_of(driver("probe", third))
    assert held["second"] == ["posix-mq", "posix-shm", "scratch", "sysv-msg", "sysv-sem", "sysv-shm"], held
    assert beside["found"] == [], f"seen from a submission graded alongside: {beside['found']}"
    assert after["found"] == [], f"outlived its grading: {after['found']}"


@needs_sandbox
def test_leftovers_cost_the_next_submission_nothing(graded, tmp_path):
    """Graded twice, one after the other: the second grading finds nothing of the first."""
    variant = VARIANTS["ipc_leave_and_pick_up"]
    for run in ("a", "b"):
        data = graded(variant.build(tmp_path / run), tmp_path / f"out-{run}", ["tensors"], LIMITS)  # the session's grading service: no environment of its own
        assert_contained(variant, data)


# --- memory, the syscall filter, the environment --------------------------------------------


@needs_sandbox
@pytest.mark.parametrize("cgroup", ["memory-cgroup", "rlimit-as"])
def test_shared_mappings_count_against_the_memory_limit(cgroup, tmp_path, monkeypatch):
    """1.5 GiB touched in a MAP_SHARED mapping under a 512 MiB limit is stopped (flag "memory"),
    by the memory cgroup where there is one, else by RLIMIT_AS; the results say which."""
    if cgroup == "memory-cgroup" and "memory-cgroup" not in layers_for(isolation_level()):
        pytest.skip("no memory cgroup on this machine")
    if cgroup == "rlimit-as":
        monkeypatch.setenv("GRADER_MEMORY_CGROUP", "0")
    variant = VARIANTS["memory_shared_mapping"]
    pids: list[int] = []
    data = grade(variant.build(tmp_path / "v"), tmp_path / "out", ["tensors"], variants.limits_for(variant, LIMITS), pids)
    assert_contained(variant, data)
    assert cgroup in data["extra_data"]["sandbox"]["layers"]
    found = memcg.own_cgroup()
    if found:  # the grader removed its cgroups before it ended (its own: another run's killed grader is not its to judge)
        assert sorted(found[0].glob(f"{memcg.PREFIX}{pids[0]}-*")) == []


@needs_sandbox
def test_reference_keeps_full_marks_under_the_address_space_limit(reference, tmp_path, monkeypatch):
    """RLIMIT_AS counts reservations too: torch's thread pools and allocator must still fit."""
    monkeypatch.setenv("GRADER_MEMORY_CGROUP", "0")
    limits = Limits(call_seconds=20, test_seconds=60, submission_seconds=300, memory_bytes=512 * 2**20)
    data = grade(reference, tmp_path, ["tensors", "training"], limits)
    assert data["score"] == data["max_score"] > 0


@needs_sandbox
def test_switching_off_the_audit_hook_hides_nothing(graded, tmp_path):
    """With the audit hook disabled from inside, a connect or a spawn still ends the worker
    (seccomp, SIGSYS), the trusted side flags it, and only that problem is lost."""
    variant = VARIANTS["audit_hook_disabled_then_escape"]
    data = graded(variant.build(tmp_path / "v"), tmp_path / "out", ["flops"], LIMITS)
    assert_contained(variant, data)
    details = [f["detail"] for f in data["extra_data"]["integrity_flags"] if f["kind"] == "syscall"]
    assert any("SIGSYS" in d for d in details), details


OURS_SEEN_FROM_A_WORKER = """

def leaks_found_at_import() -> list:
    import importlib
    import sys

    found = sorted(m for m in sys.modules if m.split(".")[0] in ("grader", "tests", "seam", "solutions"))
    for name in ("grader", "grader.core.grade", "seam", "tests.oracles", "solutions"):
        try:
            importlib.import_module(name)
            found.append("imported " + name)
        except ImportError:
            pass
    return found
"""


@needs_sandbox
def test_a_worker_holds_no_module_of_ours_and_cannot_import_one(reference, tmp_path):
    """The zygote forgets our modules once, before it forks (grader/worker/audit.py's
    `forget_our_modules`): a worker finds none of grader/, tests/ or seam/ in sys.modules, and
    importing one (or the reference) is refused."""
    submission = tmp_path / "s"
    shutil.copytree(reference, submission)
    tensors = submission / "assignment" / "tensors.py"
    tensors.write_text(tensors.read_text() + OURS_SEEN_FROM_A_WORKER)
    assert outcome_of(driver("probe", submission))["found"] == []


@needs_sandbox
def test_no_token_of_the_graders_reaches_the_worker(tmp_path, monkeypatch):
    """Tokens in the grader's environment are in neither the worker's environment, its
    /proc/self/environ, pid 1's, nor anywhere in the memory it inherited."""
    monkeypatch.setenv("RAY_AUTH_TOKEN", "hostile-grader-secret-ray")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hostile-grader-secret-aws")
    variant = VARIANTS["read_grader_environment"]
    data = grade(variant.build(tmp_path / "v"), tmp_path / "out", ["tensors"])
    assert_contained(variant, data)


# --- where Python lives, and a sandbox that cannot run -------------------------------------


def see_the_running_environment(site_packages: Path) -> None:
    """--system-site-packages reaches the base interpreter's packages only: run from a venv (the
    README's set-up), torch lives in that venv. A .pth adds this interpreter's site folders (their
    own .pth files processed, an editable install's too)."""
    folders = [folder for folder in site.getsitepackages() if Path(folder).is_dir()]
    lines = [f"import site; site.addsitedir({folder!r})" for folder in folders]
    (site_packages / "zz_running_environment.pth").write_text("\n".join(lines) + "\n")


@needs_sandbox
@pytest.mark.parametrize("where", ["/tmp", "checkout"])
def test_a_venv_grades_the_reference_in_full(where, reference, tmp_path):
    """A venv under /tmp (the scratch tmpfs over /tmp used to hide it: every submission scored
    0) or inside the checkout. The reference here imports a module that only the venv holds
    (as code imported after the walls are up reads the venv: a lazy import, a student's)."""
    venv = Path("/tmp" if where == "/tmp" else REPO_ROOT) / f".walls-venv-{os.getpid()}"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    try:
        site_packages = next(venv.glob("lib/python*/site-packages"))
        (site_packages / "walls_venv_only.py").write_text("ANSWER = 42\n")
        see_the_running_environment(site_packages)
        module = reference / "assignment" / f"{QUICKEST}.py"
        original = module.read_text()
        module.write_text(original + "\n\nimport walls_venv_only  # noqa: E402,F401  (only in the venv)\n")
        command = [str(venv / "bin" / "python"), "-m", "grader.core.grade", str(reference), str(tmp_path / "r.json"),
                   json.dumps({"call_seconds": 20}), "0", QUICKEST]
        finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        module.write_text(original)
        assert finished.returncode == 0, finished.stderr[-3000:]
        data = json.loads((tmp_path / "r.json").read_text())
        assert data["score"] == data["max_score"] > 0, [t["output"][:300] for t in data["tests"] if t["score"] < t["max_score"]][:2]
    finally:
        shutil.rmtree(venv)


@needs_sandbox
def test_a_worker_that_cannot_start_is_the_graders_error(reference):
    """Failing before its walls are up, a worker is SandboxUnavailable with the cause, never a 0."""
    outcome = outcome_of(driver("broken-worker", reference))
    assert outcome["raised"] == "SandboxUnavailable", outcome
    assert "injected: the worker's walls could not be raised" in outcome["message"]


def test_without_namespaces_no_worker_outlives_its_sandbox(reference, monkeypatch):
    """With no pid namespace the worker has a session of its own and outlives its zygote: closing
    the sandbox must end it too (else it holds the output pipe and close() waits out a timeout)."""
    monkeypatch.setenv("GRADER_ISOLATION", "none")
    outcome = outcome_of(driver("last-worker", reference))
    assert outcome == {"level": "none", "running_after_close": False}, outcome


@needs_sandbox
def test_the_canary_passes_where_the_sandbox_works():
    canary.check_sandbox_works(LIMITS, allow_weak=False)


@needs_sandbox
def test_the_canary_stops_a_batch_that_would_score_zeros(monkeypatch):
    with pytest.raises(SandboxUnavailable, match="canary"):
        canary.check_sandbox_works(Limits(call_seconds=0.001, submission_seconds=5), allow_weak=False)
    monkeypatch.setenv("GRADER_ISOLATION", "none")
    with pytest.raises(SandboxUnavailable, match="allow-weak-sandbox"):
        canary.check_sandbox_works(LIMITS, allow_weak=False)
