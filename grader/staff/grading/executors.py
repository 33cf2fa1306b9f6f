"""Trusted side: where the per-submission jobs run.

An executor takes jobs (one submission each) and yields `(job, outcome, seconds)` as they
finish, outcome being grade_in_subprocess's `{"ok": True, "results": {...}}` or
`{"ok": False, "error": "..."}`. It never touches the gradebook: the driver
(grader/staff/grading/batch.py) records every outcome, so there is one writer however many machines grade.

- LocalExecutor (the default): a grading service (grader/core/service.py: torch imported once,
  a fresh grading process forked per submission) and N threads on this machine, each driving
  one grading process at a time (a thread waiting on a process costs nothing; the grading is
  in the processes). The cores are shared out: each job's torch gets cores // N threads, as
  Ray gives a one-CPU task one (OMP_NUM_THREADS, unless it is set already), so parallel
  jobs do not fight over the same cores.
- RayExecutor (`--executor ray [--address ADDR]`, `pip install '.[ray]'`): one Ray task per
  submission. The task receives the submission as .zip bytes (so nodes need no shared
  filesystem), grades it in a fresh `python -m grader.core.grade` on its node, and returns the results dict. The
  repository (grader, suites, reference) travels to the nodes as the job's working_dir.
  Where the cluster has GPUs, each task asks Ray for one, so the suites' CUDA tests run
  there instead of being skipped.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from grader.core import results
from grader.core.service import LAUNCH, GradingService, grading_environment, progress_file
from grader.staff.grading.gradebook import Late
from grader.core.intake import BadSubmission
from grader.core.limits import Limits
from seam import REPO_ROOT


@dataclass(frozen=True)
class Job:
    student: str
    submission: Path
    out_file: Path
    sha256: str
    late: Late


@dataclass(frozen=True)
class Grading:
    """How every job of a batch is graded."""

    limits: Limits
    allow_weak: bool = False
    modules: tuple[str, ...] | None = None  # the suites' problems; None: all; (): none (the written part alone)
    written: bool = True  # grade the written part too (grader/core/written.py, here on the trusted side)
    term: str = ""  # course.toml's [course] term: the written part's numbers are drawn with it
    tamper: str = "flag"  # course.toml's [integrity] tamper, applied by the driver (grader/core/integrity.py)

    @property
    def runs_suites(self) -> bool:
        return self.modules != ()

    @property
    def scope(self) -> str:
        """What the gradebook records as graded: "" for everything, else the problems (and "written")."""
        if self.modules is None and self.written:
            return ""
        return ",".join((*(self.modules or ()), *(["written"] if self.written else [])))


def threads_per_job(jobs: int) -> int:
    """Torch's threads for each of `jobs` processes grading at once: the cores shared out."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int, problems: tuple[str, ...] | list[str] | None = None):
        self.workers = max(1, workers)
        self.threads = threads_per_job(self.workers)
        # Started on first use, from the thread that calls `run` or `service.start()` (the main one).
        self.service = GradingService(self.threads, problems)

    def describe(self) -> str:
        return f"{self.workers} local worker(s), {self.threads} torch thread(s) each, one grading service"

    def run(self, jobs: list[Job], grading: Grading) -> Iterator[tuple[Job, dict, float]]:
        modules = list(grading.modules) if grading.modules else None
        self.service.start()  # here, not in a pool thread: the service dies with the thread that started it
        with ThreadPoolExecutor(self.workers, thread_name_prefix="grade") as pool:
            futures = {
                pool.submit(_timed, self.service.grade, job.submission, job.out_file, grading.limits, grading.allow_weak, modules): job
                for job in jobs
            }
            try:
                for future in as_completed(futures):
                    yield futures[future], *future.result()
            finally:  # stopped early (Ctrl-C, SIGTERM, an error): nothing waits for the grades in flight
                if not all(future.done() for future in futures):
                    for future in futures:
                        future.cancel()
                    self.stop()
                pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """Kill the service and the grading processes still running (their sandboxes die with them)."""
        self.service.stop()

    def close(self) -> None:
        self.service.close()


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None):
        try:
            import ray
        except ImportError:
            raise SystemExit("--executor ray needs Ray: pip install 'ray[default]' (or the project's [ray] extra)") from None
        self.ray = ray
        ray.init(
            address=address,
            runtime_env={"working_dir": str(REPO_ROOT), "excludes": [".git", ".hypothesis", "grading-results", "**/__pycache__", "*.sqlite*", ".venv"]},
            log_to_driver=False,
        )
        resources = ray.cluster_resources()
        self.gpus_per_task = 1 if resources.get("GPU", 0) >= 1 else 0
        self.cpus = int(resources.get("CPU", 1))

    def describe(self) -> str:
        gpu = ", one GPU per task" if self.gpus_per_task else ", no GPU in the cluster: CUDA tests skip"
        return f"Ray cluster with {self.cpus} CPU(s){gpu}"

    def run(self, jobs: list[Job], grading: Grading) -> Iterator[tuple[Job, dict, float]]:
        from grader.core.grade import refused

        ray = self.ray
        task = ray.remote(grade_on_node).options(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=2)
        limits = dataclasses.asdict(grading.limits)
        modules = list(grading.modules) if grading.modules else None
        started = time.monotonic()
        pending = {}
        for job in jobs:
            try:
                archive, flags = pack(job.submission)
            except BadSubmission as error:  # refused here, on the driver: nothing of it travels
                yield job, {"ok": True, "results": refused(error, modules)}, time.monotonic() - started
                continue
            pending[task.remote(archive, job.student, limits, grading.allow_weak, modules, flags)] = job
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            try:
                outcome, seconds = ray.get(done[0])
            except ray.exceptions.RayError as error:  # a node lost, a task killed: a grader error, retried next run
                outcome, seconds = {"ok": False, "error": f"Ray: {error}"}, time.monotonic() - started
            if "staff" in outcome:
                results.write_atomically(results.staff_file(job.out_file), outcome.pop("staff"))
            yield job, outcome, seconds

    def close(self) -> None:
        self.ray.shutdown()


def grade_on_node(
    archive: bytes, student: str, limits: dict, allow_weak: bool, modules: list[str] | None, flags: list[dict] = ()
) -> tuple[dict, float]:
    """A Ray task: grade one submission on whichever node runs it; return the results (and the staff file) to the driver.

    `flags`: what the driver's intake flagged (links it left out of the archive).
    """
    with tempfile.TemporaryDirectory(prefix="ray-grade-") as scratch:
        submission, out_file = Path(scratch) / f"{student}.zip", Path(scratch) / "results.json"
        submission.write_bytes(archive)
        outcome, seconds = _timed(grade_in_subprocess, submission, out_file, Limits(**limits), allow_weak, modules)
        if outcome["ok"]:
            outcome["results"]["extra_data"]["integrity_flags"][:0] = flags
            if results.staff_file(out_file).exists():
                outcome["staff"] = json.loads(results.staff_file(out_file).read_text())
    outcome["node"] = socket.gethostname()
    return outcome, seconds


def pack(submission: Path) -> tuple[bytes, list[dict]]:
    """The submission's staged copy (grader/core/intake.py) as .zip bytes, and its flags; BadSubmission if it is refused."""
    from grader.core import intake

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="pack-") as scratch, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        staged = intake.stage(submission, Path(scratch))
        for path in sorted(staged.folder.rglob("*")):
            if path.is_file():  # the staged copy holds only regular files and folders
                archive.write(path, path.relative_to(staged.folder).as_posix())
    return buffer.getvalue(), staged.flags


def grade_in_subprocess(
    submission: Path, out_file: Path, limits: Limits, allow_weak: bool, modules: list[str] | None = None, threads: int | None = None,
    track=None,
) -> dict:
    """Grade one submission in a fresh trusted process; its results.json is the outcome.

    `threads`: torch's thread count there (OMP_NUM_THREADS), unless the environment sets one.
    `track(process, running)`: told when the process starts and ends (so a stopped batch can kill it).
    """
    out_file = out_file.resolve()  # the process runs in the checkout: a relative path would land there
    progress = progress_file(out_file)
    progress.unlink(missing_ok=True)  # a killed run's counts are not this run's
    env = grading_environment(os.environ)
    if threads is not None:
        env = {"OMP_NUM_THREADS": str(threads), **env}
    env["GRADER_PROGRESS_FILE"] = str(progress)
    # `python -m grader.core.grade` in a process that dies with this one (a driver killed with
    # SIGKILL leaves no grading orphans behind; the zygote in turn dies with its grader).
    command = [
        sys.executable, "-c", LAUNCH, str(os.getpid()), "grader.core.grade", str(submission.resolve()), str(out_file.resolve()),
        json.dumps(dataclasses.asdict(limits)), "1" if allow_weak else "0", ",".join(modules or []),
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if track is not None:
        track(process, True)
    try:
        stdout, stderr = process.communicate()
    finally:
        if track is not None:
            track(process, False)
    if process.returncode < 0:  # killed (a stopped batch): its counts would mislead the next run's bar
        progress.unlink(missing_ok=True)
    if process.returncode != 0:
        return {"ok": False, "error": (stderr or stdout)[-3000:]}
    return {"ok": True, "results": json.loads(out_file.read_text())}


def make(kind: str, workers: int, address: str | None, problems: tuple[str, ...] | None = None):
    return RayExecutor(address) if kind == "ray" else LocalExecutor(workers, problems)


def _timed(function, *args) -> tuple[dict, float]:
    started = time.monotonic()
    outcome = function(*args)
    return outcome, time.monotonic() - started
