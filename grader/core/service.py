"""Trusted side: a grading service for a batch. Torch and the grader are imported once; every
submission is graded by a fresh process forked from that clean state (the zygote idea, one
level up). This module is the driver's side (`GradingService`, and what the per-process
executor shares with it: LAUNCH, the grading environment); the service's own side, and each
grading process it forks, is grader/core/service_process.py.

    driver (`python -m grader grade`: the gradebook, course.toml, threads, its own signals)
      |   control socket   {"op": "fork"} + a socket for the job  ->  {"pid": N}
      |                    {"op": "reap", "pid": N}               ->  {"status": "exited with status 0"}
      v
    service (`python -m grader.core.service_process`, a new interpreter in its own session, started with
      the allow-listed environment): imports the grader, torch and the drivers and warms torch up
      (zygote.preload, exactly what `python -m grader.core.grade` does before forking its zygote),
      then forks one grading process per job. It never reads a job, a result, the rubric, the
      suites or the reference, and never imports pytest: it checks so before every fork.
      |
      v
    grading process (one per submission): reads its job from its own socket and grades it as
      `python -m grader.core.grade` would (grade_one: intake, then the sandbox forks ITS zygote
      before pytest, the suites and the rubric are loaded, then results.json); answers {"ok": ...}
      and ends. Another submission's grading never shares a process with it.

Why a new interpreter and not a fork of the driver: the driver holds the gradebook, course.toml,
the interrupt handlers of grader/staff/grading/interrupts.py, its threads and its whole environment (a
token, maybe); the service starts from `grading_environment` alone and holds none of them.

What a grading process inherits from the service, and why that is safe:
- memory: torch, the grader's modules and the warm-up; nothing of any submission (the service
  never reads a job: each grading process reads its own), and every grading process is forked
  from the same state, so none can see what another graded.
- threads: the service runs no Python thread besides its main one. torch's import leaves idle
  native threads and no OpenMP pool (the warm-up runs on one thread, zygote._warm_up); a fork
  keeps only the forking thread, as when `grader.core.grade` forks its zygote from the same
  state. torch's intra-op thread count is set in the service before any fork (OMP_NUM_THREADS:
  the cores shared out between the batch's concurrent grading processes).
- file descriptors: the control socket (closed first thing) and its own job socket; stdout and
  stderr go to a file of its own, whose end is the error text if grading fails.
- signals: the service changes no handler: a grading process has a fresh interpreter's (SIGINT
  raises KeyboardInterrupt; grade_one installs its SIGTERM/SIGHUP clean-ups itself). No
  terminal signal reaches the service's session: the driver alone stops it (`stop`: SIGKILL to
  the session's process group, every grading process with it; each zygote dies with its grading
  process, grader/worker/jail.py `die_with_parent`; their folders go to the next run's sweep,
  grader/core/leases.py, as with a killed `grader.core.grade`).
- state of libraries: Python's and numpy's random generators are reseeded from the OS, as a new
  interpreter's are; the progress file (GRADER_PROGRESS_FILE) and the command line
  ("grading SUBMISSION") are the job's; the service holds no lease, no clean-up, no work folder.

A grading process that crashes costs its submission a grader error (retried on the next run,
grader/staff/grading/batch.py), never the batch; a service that ends is started again for the next job.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from seam import REPO_ROOT

# `python -c LAUNCH PARENT_PID MODULE ARGS...`: run MODULE as __main__ in a process that dies with
# the one that started it (Linux's PR_SET_PDEATHSIG; it follows the starting THREAD): a driver
# killed with SIGKILL leaves no grading process behind.
LAUNCH = (
    "import ctypes, os, runpy, sys\n"
    "prctl = getattr(ctypes.CDLL(None), 'prctl', None)\n"
    "parent = int(sys.argv.pop(1))\n"
    "module = sys.argv.pop(1)\n"
    "if prctl is not None and prctl(1, 9) == 0 and os.getppid() != parent: os._exit(1)\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)

# The grading process forks the sandbox's zygote: what is in its memory is in the worker's.
# So it gets only what Python, the grader and the worker need, never a token or credential.
GRADING_NAMES = frozenset({"HOME", "USER", "TMPDIR", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "LD_LIBRARY_PATH"})
GRADING_PREFIXES = ("GRADER_", "HYPOTHESIS_", "COVERAGE_")
MAX_MESSAGE = 65536  # a job or a reply: paths, limits, an error's last 3,000 characters
SERVICE_MODULE = "grader.core.service_process"  # the service's side, run as __main__ by LAUNCH


def grading_environment(environ) -> dict[str, str]:
    from grader.worker.jail import worker_environment

    kept = {k: v for k, v in environ.items() if k in GRADING_NAMES or k.startswith(GRADING_PREFIXES)}
    return {**worker_environment(environ), **kept}


def progress_file(out_file: Path) -> Path:
    """Where the grading process counts its tests as they finish (grader/core/plugin.py writes it)."""
    return out_file.with_name("progress.log")


class ServiceDown(RuntimeError):
    """The service could not be started, or ended: the jobs it had are grader errors."""


# --- the driver's side ---------------------------------------------------------------------


class GradingService:
    """A handle on one service process; `grade` may be called from many threads at once.

    Start it from the thread that will outlive the batch (the main thread): the service dies
    with that thread (PR_SET_PDEATHSIG).
    """

    def __init__(self, threads: int | None = None, problems: list[str] | tuple[str, ...] | None = None):
        self.threads = threads  # torch's intra-op threads in each grading process (None: torch's default)
        self.problems = list(problems) if problems else None  # what the warm-up prepares for (None: all)
        self._lock = threading.Lock()  # one command at a time on the control socket
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._log = None
        self._stopped = False
        self.starts = 0

    def __enter__(self) -> "GradingService":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the service unless it runs (it imports torch: ~1-2 s); ServiceDown if it cannot start."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._stopped:
            raise ServiceDown("the grading service was stopped")
        if self._process is not None and self._process.poll() is None:
            return
        self._discard()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = grading_environment(os.environ)
        if self.threads is not None:
            env = {"OMP_NUM_THREADS": str(self.threads), **env}
        self._log = tempfile.TemporaryFile(prefix="grading-service-")
        command = [sys.executable, "-c", LAUNCH, str(os.getpid()), SERVICE_MODULE, str(theirs.fileno()), json.dumps(self.problems)]
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log, start_new_session=True,
        )
        theirs.close()
        self._control = ours
        self.starts += 1
        ours.settimeout(300)  # torch's import and warm-up, on a very busy machine
        try:
            if not self._read(ours).get("ready"):
                raise ServiceDown("it said something else than ready")
        except (OSError, ServiceDown, ValueError) as error:
            said = self._log_tail()
            self._kill_locked()
            raise ServiceDown(f"the grading service did not start ({error}): {said}") from None
        ours.settimeout(None)

    def grade(self, submission: Path, out_file: Path, limits, allow_weak: bool, modules: list[str] | None = None) -> dict:
        """Grade one submission in a fresh grading process: `{"ok": True, "results": results.json's data}`,
        or `{"ok": False, "error": "..."}` (a grader error: nothing of it is a grade)."""
        from dataclasses import asdict

        out_file = out_file.resolve()  # the service runs in the checkout: a relative path would land there
        progress = progress_file(out_file)
        progress.unlink(missing_ok=True)  # a killed run's counts are not this run's
        job = {
            "submission": str(submission.resolve()), "out_file": str(out_file), "limits": asdict(limits),
            "allow_weak": allow_weak, "modules": list(modules) if modules else None, "progress": str(progress),
        }
        try:
            pid, channel = self._fork()
        except ServiceDown as error:
            return {"ok": False, "error": str(error)}
        with channel:
            try:
                channel.sendall(json.dumps(job).encode())
                reply = self._read(channel)
            except (OSError, ServiceDown, ValueError):
                reply = {}
        how = self._reap(pid)
        if reply.get("ok") is True:
            return {"ok": True, "results": json.loads(out_file.read_text())}
        progress.unlink(missing_ok=True)  # its counts would mislead the next run's bar
        return {"ok": False, "error": str(reply.get("error") or f"the grading process {how} before it answered")[-3000:]}

    def _fork(self) -> tuple[int, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._lock:
                for attempt in (1, 2):  # a service that ended since the last job is started again, once
                    self._start_locked()
                    try:
                        socket.send_fds(self._control, [json.dumps({"op": "fork"}).encode()], [theirs.fileno()])
                        return self._read(self._control)["pid"], ours
                    except (OSError, ServiceDown, KeyError, ValueError) as error:
                        said = self._log_tail()
                        self._kill_locked()  # whatever it still runs ends with it
                        if attempt == 2 or self._stopped:
                            raise ServiceDown(f"the grading service ended ({error}): {said}") from None
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        raise AssertionError("unreachable")

    def _reap(self, pid: int) -> str:
        """How grading process `pid` ended (the service waits for it, and kills it if it lingers)."""
        try:
            with self._lock:
                if self._control is None:
                    return "ended with the grading service"
                self._control.sendall(json.dumps({"op": "reap", "pid": pid}).encode())
                return str(self._read(self._control).get("status", "ended"))
        except (OSError, ServiceDown, ValueError):
            return "ended with the grading service"

    @staticmethod
    def _read(sock: socket.socket) -> dict:
        message = sock.recv(MAX_MESSAGE)
        if not message:
            raise ServiceDown("the channel closed")
        return json.loads(message)

    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """End the service and every grading process now (SIGKILL to its process group), for good,
        and wait for it: within milliseconds, whatever it was doing (a stopped batch: Ctrl-C)."""
        self._stopped = True
        self._signal_group()
        with self._lock:  # a thread waiting on the service holds it: the kill above ends that wait
            self._discard()

    stop = close

    def _signal_group(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _kill_locked(self) -> None:
        self._signal_group()
        self._discard()

    def _discard(self) -> None:
        if self._control is not None:
            self._control.close()  # a service still running reads EOF: it ends, and every grading process with it
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]
