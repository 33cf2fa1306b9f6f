"""Trusted side of the boundary: start the sandboxed worker and talk to it.

`Sandbox` owns one zygote (grader/worker/zygote.py) for one submission: it forks it from
this process once torch is imported and before any secret is loaded, inside a memory cgroup
of its own where the machine has one (grader/core/memcg.py); the zygote enters every namespace the
kernel offers (a user namespace too where the grader is not root). The sandbox hands it a
fresh socket per worker, waits for the worker's walls to be up, enforces the wall-clock
limits, keeps the first bytes of what the worker prints, and records how each worker ended
(a SIGSYS from the syscall filter, an OOM kill of the memory cgroup: flags seen from outside).
What the machine allows is probed in machine.py, the output kept apart in output_capture.py,
and what the tests see (`RemoteImpl`) is in remote.py.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.core import leases, memcg, phases
from grader.core.flags import FlagLog
from grader.compat import add_note
from grader.worker import syscalls
from grader.core.machine import WORK_BASE, SANDBOX_PREFIX, UIDS, SandboxUnavailable, check_installed_from_checkout, driver_modules, isolation_level, masked_paths, memory_layer, namespaces, python_dirs
from grader.core.output_capture import OutputCapture

# torch is imported by Sandbox.start (zygote.preload), just before it forks the zygote: the
# zygote and its workers inherit it instead of importing it again.



@dataclass(frozen=True)
class Limits:
    call_seconds: float = 30.0
    test_seconds: float = 120.0
    submission_seconds: float = 1200.0
    memory_bytes: int = 4 * 2**30  # on top of what the worker holds after importing torch
    processes: int = 256  # threads count too (torch's pools)
    file_bytes: int = 2 * 2**30
    open_files: int = 256
    scratch_mb: int = 1024
    output_bytes: int = 64 * 1024

    def for_worker(self) -> dict:
        return {
            "cpu_seconds": int(self.submission_seconds) + 5,
            "data_bytes": self.memory_bytes,
            "processes": self.processes,
            "file_bytes": self.file_bytes,
            "open_files": self.open_files,
        }


HUNG_LEASH_SECONDS = 2.0  # the time limit of a call to a function that already hung once


class SubmissionFault(Exception):
    """Base of the faults a call can end in besides an ordinary exception."""

    flag = "crash"


class CallTimedOut(SubmissionFault):
    flag = "timeout"


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


# --- one submission's sandbox ------------------------------------------------------------


@dataclass
class Sandbox:
    submission: Path  # a folder holding assignment/
    limits: Limits = field(default_factory=Limits)
    allow_weak: bool = False
    level: str = ""
    problems: list[str] | None = None  # those to be graded (None: all); warm-up is chosen by them
    flags: FlagLog = field(default_factory=FlagLog)
    sources: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        """Fork the zygote; on any failure, nothing of it is left (folder, uid, cgroup, processes)."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        self.level = self.level or isolation_level()
        phases.mark("isolation probed")
        if self.level == "none" and not self.allow_weak:
            raise SandboxUnavailable(
                "this machine allows no namespaces (not root, no user namespaces): student code "
                "would run with rlimits and an audit hook only. Pass --allow-weak-sandbox to grade anyway."
            )
        leases.sweep(WORK_BASE, SANDBOX_PREFIX)  # what runs killed outright left behind
        self.workdir = leases.work_folder(WORK_BASE, SANDBOX_PREFIX)
        self._cleanup_key = leases.at_termination(self.close)
        self._uid_lease = leases.worker_uid(UIDS) if self.level == "root" else None
        self.uid = self._uid_lease.uid if self._uid_lease else None
        from grader.protocol import wire  # torch with it: imported here, just before the zygote is forked

        self.budget = wire.Budget()  # what replies may make this process hold, per test and in all
        self._copy_submission()
        check_installed_from_checkout()
        self.cgroup = memcg.create(self.limits.memory_bytes) if memory_layer(self.level) == "memory-cgroup" else None
        self.oom_kills = 0
        dirs = python_dirs()
        config = {
            "jail": self.level != "none",
            "namespaces": list(namespaces(self.level)),
            "new_root": str(self.workdir / "root"),
            "submission": str(self.workdir / "submission"),
            "scratch": str(self.workdir / "scratch"),
            "python_dirs": dirs,
            "masked": masked_paths(dirs),
            "scratch_mb": self.limits.scratch_mb,
            "uid": self.uid,
            "limits": self._worker_limits(),
            "seccomp": syscalls.available(),
            "driver_modules": driver_modules(),
            "problems": self.problems,
        }
        (self.workdir / "root").mkdir()
        (self.workdir / "scratch").mkdir(mode=0o700)
        self._control, zygote_end = socket.socketpair()
        output_read, output_write = os.pipe()
        self._zygote = _fork_zygote(config, self.level, zygote_end.fileno(), output_write, self.cgroup, self.limits.memory_bytes)
        zygote_end.close()
        os.close(output_write)
        self._output_fd = output_read
        self._zygote_exit: int | None = None  # its wait status, once reaped
        self._capture = OutputCapture(output_read, self.limits.output_bytes)
        self._reader = self._capture.thread
        self._data: socket.socket | None = None
        self._pid: int | None = None
        self.spent = 0.0

    def _worker_limits(self) -> dict:
        limits = self.limits.for_worker()
        if self.cgroup is not None:
            limits["memory_cgroup"] = True
        elif memory_layer(self.level) == "rlimit-as":
            # The address space, so that shared mappings count too; it counts mapped files
            # as well, and a worker may map a scratch file as large as scratch.
            limits["address_space_bytes"] = self.limits.memory_bytes + self.limits.scratch_mb * 2**20
        return limits

    def _copy_submission(self) -> None:
        """Copy assignment/'s regular files (grader/core/intake.py: no link followed) and keep their text for source checks."""
        from grader.core import intake

        target_dir = self.workdir / "submission" / "assignment"
        for entry in intake.copy_folder(self.submission / "assignment", target_dir):
            self.flag(entry["kind"], entry["detail"], None)
        for path in sorted(target_dir.glob("*.py")):  # our own copy: plain files
            self.sources[path.stem] = path.read_text(encoding="utf-8", errors="replace")
        for folder in (target_dir, *(p for p in target_dir.rglob("*") if p.is_dir())):
            os.chmod(folder, 0o755)
        os.chmod(target_dir.parent, 0o755)

    def output(self) -> str:
        """What the workers printed while only public tests had run: the student may see it."""
        return self._capture.text("visible")

    def staff_output(self) -> str:
        """What they printed from the first hidden test on (its inputs, maybe): for staff only."""
        return self._capture.text("staff")

    def hidden_tests_begin(self) -> None:
        self._capture.switch("staff")

    def in_hidden_tests(self) -> bool:
        """From the first hidden test on: what is raised now may carry a hidden test's inputs."""
        return self._capture.side == "staff" if getattr(self, "_capture", None) else False

    def flag(self, kind: str, detail: str, test: str | None) -> None:
        """A flag the trusted side raises (bounded and typed like every flag: grader/core/flags.py)."""
        self.flags.add(kind, detail, test, hidden=self.in_hidden_tests())

    # --- workers -----------------------------------------------------------------------

    def fresh_worker(self, fresh_scratch: bool = False) -> None:
        """End the current worker (and all it started) and fork a new one; with `fresh_scratch`,
        the scratch folder is emptied in between, so the new one finds nothing of the old."""
        if self._data is not None:
            self._data.close()
        started = time.perf_counter()
        ours, theirs = socket.socketpair()
        command = json.dumps({"op": "spawn", "previous": self._pid, "fresh_scratch": fresh_scratch}).encode()
        try:
            socket.send_fds(self._control, [command], [theirs.fileno()])
        except OSError:  # no student code runs in the zygote: the grader's own failure
            raise SandboxUnavailable(f"the sandbox's zygote ended ({self._zygote_status()}):\n{self.output()}") from None
        finally:
            theirs.close()
        reply = self._control_reply()
        self._pid, self._data = reply["pid"], ours
        self._await_ready()
        phases.add("worker spawn", time.perf_counter() - started)  # the first includes the zygote's set-up

    def _await_ready(self) -> None:
        """The worker's first byte says its walls are up; without it no student code ran,
        so a worker that cannot start is the grader's failure, never the student's 0."""
        from grader.worker.serve import READY

        self._data.settimeout(60)
        try:
            ready = self._data.recv(len(READY))
        except OSError:
            ready = b""
        if ready != READY:
            how = self._how_it_ended()
            raise SandboxUnavailable(f"a sandboxed worker could not start (it {how}):\n{self.output()}")

    def _control_reply(self) -> dict:
        self._control.settimeout(120)  # the first reply waits for the zygote to import torch
        try:
            message = self._control.recv(4096)
        except (TimeoutError, OSError) as error:
            raise SandboxUnavailable(f"the sandbox's zygote did not answer: {error}\n{self.output()}") from None
        if not message:
            raise SandboxUnavailable(f"the sandbox's zygote ended ({self._zygote_status()}):\n{self.output()}")
        return json.loads(message)

    def request(self, message: dict, test: str | None, timeout: float | None = None) -> Any:
        """Send one request to the worker; its reply's value, or the submission's error raised."""
        from grader.protocol import wire

        if self._data is None:
            self.fresh_worker()
        budget = self.limits.submission_seconds - self.spent
        timeout = min(self.limits.call_seconds if timeout is None else timeout, budget)
        if timeout <= 0:
            raise CallTimedOut(f"the submission's time limit ({self.limits.submission_seconds:.0f} s) is spent")
        started = time.monotonic()
        try:
            self._data.settimeout(timeout)
            wire.send(self._data, message)
            reply = wire.recv(_Deadline(self._data, started + timeout), self.budget)
        except (TimeoutError, socket.timeout):
            self._end_worker()
            self.flag("timeout", f"a call ran over {timeout:.0f} s", test)
            raise CallTimedOut(f"the call ran over its time limit ({timeout:.0f} s) and was stopped") from None
        except (wire.ChannelClosed, ConnectionError, BrokenPipeError):
            how = self._how_it_ended()
            kind = self._kind_of_death(how)
            self.flag(kind, f"the worker {how}", test)
            raise WorkerDied(f"the process running your code {_ended(how)}") from None
        except wire.WireError as error:
            self._end_worker()
            self.flag("unsafe-result", str(error), test)
            raise UnsafeResult(f"the grader refused what your code returned: {error}") from None
        finally:
            self.spent += time.monotonic() - started
        if not isinstance(reply, dict):
            raise SubmissionError("the worker sent a malformed reply")
        self.flags.add_reported(reply.get("flags", []), test, self.in_hidden_tests())
        if reply.get("ok") is True:
            return reply.get("value")
        raise _as_exception(reply.get("error"), self, test)

    def _kind_of_death(self, how: str) -> str:
        """The flag for a worker that ended: seen from outside it, so student code cannot hide it."""
        if "SIGSYS" in how:
            return "syscall"  # the kernel's filter killed it for a forbidden system call
        if "SIGKILL" in how and self.cgroup is not None and self.cgroup.oom_kills() > self.oom_kills:
            self.oom_kills = self.cgroup.oom_kills()
            return "memory"  # the memory cgroup's OOM killer
        return "exit" if how.startswith(("exited", "closed")) else "crash"

    def _how_it_ended(self) -> str:
        pid, self._pid = self._pid, None
        self._data.close()
        self._data = None
        self._control.sendall(json.dumps({"op": "reap", "pid": pid}).encode())
        return self._control_reply()["status"]

    def _end_worker(self) -> None:
        self._data.close()
        self._data = None  # the next request forks a new worker, which ends this one first

    def _zygote_status(self, wait: float = 5.0) -> str:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self._zygote, os.WNOHANG)
            if pid:
                self._zygote_exit = status
                return f"status {os.waitstatus_to_exitcode(status)}"
            time.sleep(0.01)
        return "still running"

    def close(self) -> None:
        """End the zygote (and every worker), remove the work folder, give back the uid: whatever start() got to."""
        if getattr(self, "_zygote", None) is not None:
            self._end_zygote()
        if getattr(self, "workdir", None) is not None:
            leases.remove_folder(self.workdir)
            self.workdir = None
        if getattr(self, "_uid_lease", None) is not None:
            self._uid_lease.release()
            self._uid_lease = None
        if getattr(self, "cgroup", None) is not None:
            self.cgroup.remove()
            self.cgroup = None
        leases.cancel(getattr(self, "_cleanup_key", None))

    def _end_zygote(self) -> None:
        self._control.close()
        # Nothing in the sandbox is worth a clean shutdown: end its whole process group now
        # (the zygote, pid 1 of its pid namespace, takes every worker with it).
        try:
            os.killpg(self._zygote, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._zygote_exit is None:
            os.waitpid(self._zygote, 0)
        self._reader.join(timeout=5)
        os.close(self._output_fd)
        self._zygote = None


# What must not be in memory when the zygote is forked: it would be in every worker's too.
SECRET_MODULES = ("solutions", "tests.oracles", "tests.hidden", "tests.public", "pytest", "_pytest", "hypothesis", "grader.core.plugin")


def refuse_secrets(what: str) -> None:
    """Refuse (RuntimeError) to fork from this process once it holds any of SECRET_MODULES: the
    zygote here, and the grading service (grader/core/service.py) before each grading process."""
    loaded = [m for m in sys.modules if any(m == s or m.startswith(s + ".") for s in SECRET_MODULES)]
    if loaded:
        raise RuntimeError(f"{what} must start before the grader loads {loaded[:3]}: a fork would copy them")


def _fork_zygote(config: dict, level: str, control_fd: int, output_fd: int, cgroup, memory_bytes: int) -> int:
    """Fork the zygote from this process, torch already imported; its pid (a session leader).

    `cgroup`: the memory cgroup the zygote joins (None: none); its limit is `memory_bytes`
    plus what this process holds now, the most its copy-on-write pages can come to.
    """
    from grader.worker import jail, zygote

    phases.mark("preload start")
    drivers = zygote.preload(config["driver_modules"], config["problems"])  # once, for both sides
    phases.mark("preloaded")
    refuse_secrets("the sandbox")
    import torch

    if torch.cuda.is_initialized():  # a forked child cannot use a CUDA context: the worker makes its own
        raise RuntimeError("CUDA was initialised before the sandbox forked its zygote")
    if cgroup is not None:
        cgroup.set_limit(memory_bytes + _resident_bytes())
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    with warnings.catch_warnings():
        # torch's import leaves a native thread; the child needs none of it (workers are
        # forked the same way), so Python 3.12's warning about fork in threads is moot here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        phases.mark("zygote forked")
        return pid
    code = 1
    try:
        if os.environ.get("GRADER_TEST_BREAK_ZYGOTE"):  # the kit's tests: a sandbox that dies once started
            os._exit(70)
        os.setsid()
        jail.die_with_parent(parent)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.dup2(control_fd, 3)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))  # none of the grader's files stay open
        jail.replace_environment()
        jail.replace_command_line()
        if cgroup is not None:
            cgroup.join()  # before the cgroup namespace: it becomes the zygote's root cgroup
            jail.protect_from_oom_killer()
        if config["jail"]:
            jail.enter_namespaces(level, config["namespaces"])  # returns in pid 1 of the new pid namespace
        zygote.run(config, socket.socket(fileno=3), drivers)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Deadline:
    """A socket whose every recv() waits only until one deadline (no slow-drip replies)."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline

    def recv(self, count: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        return self.sock.recv(count)


# What a signal that ended the worker means, for a student reading it.
_SIGNAL_MEANS = {
    "SIGSEGV": "a crash: an invalid memory access", "SIGBUS": "a crash: an invalid memory access", "SIGABRT": "aborted",
    "SIGFPE": "a crash: an arithmetic fault", "SIGKILL": "stopped from outside: memory or time ran out", "SIGSYS": "a forbidden system call",
}


def _ended(how: str) -> str:
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


def _as_exception(error: Any, sandbox: Sandbox, test: str | None) -> BaseException:
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
