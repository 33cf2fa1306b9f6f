"""Trusted side of the boundary: start the sandboxed worker and talk to it.

`Sandbox` owns one zygote (grader/worker/zygote.py) for one submission: it forks it from
this process once torch is imported and before any secret is loaded, inside a memory cgroup
of its own where the machine has one (grader/core/memcg.py); the zygote enters every namespace the
kernel offers (a user namespace too where the grader is not root). The sandbox hands it a
fresh socket per worker, waits for the worker's walls to be up, enforces the wall-clock
limits, keeps the first bytes of what the worker prints, and records how each worker ended
(a SIGSYS from the syscall filter, an OOM kill of the memory cgroup: flags seen from outside).
What the machine allows is probed in machine.py, the fork itself is zygote_fork.py's, the
limits are limits.py's, a failed call's exceptions faults.py's, the output is kept apart in
output_capture.py, and what the tests see (`RemoteImpl`) is in remote.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.core import leases, memcg, phases
from grader.core.faults import CallTimedOut, SubmissionError, UnsafeResult, WorkerDied, as_exception, ended, seconds, stopped_call
from grader.core.flags import FlagLog
from grader.core.limits import Limits
from grader.worker import syscalls
from grader.worker.settings import ZygoteSettings
from grader.core.machine import WORK_BASE, SANDBOX_PREFIX, UIDS, SandboxUnavailable, check_installed_from_checkout, driver_modules, isolation_level, masked_paths, memory_layer, namespaces, python_dirs
from grader.core.output_capture import OutputCapture
from grader.core.zygote_fork import fork_zygote


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
        settings = ZygoteSettings(
            jail=self.level != "none",
            namespaces=tuple(namespaces(self.level)),
            new_root=str(self.workdir / "root"),
            submission=str(self.workdir / "submission"),
            scratch=str(self.workdir / "scratch"),
            python_dirs=tuple(dirs),
            masked=tuple(masked_paths(dirs)),
            scratch_mb=self.limits.scratch_mb,
            uid=self.uid,
            limits=self.limits.for_worker(self.cgroup is not None, memory_layer(self.level) == "rlimit-as"),
            seccomp=syscalls.available(),
            driver_modules=tuple(driver_modules()),
            problems=tuple(self.problems) if self.problems is not None else None,
        )
        (self.workdir / "root").mkdir()
        (self.workdir / "scratch").mkdir(mode=0o700)
        self._control, zygote_end = socket.socketpair()
        output_read, output_write = os.pipe()
        self._zygote = fork_zygote(settings, self.level, zygote_end.fileno(), output_write, self.cgroup, self.limits.memory_bytes)
        zygote_end.close()
        os.close(output_write)
        self._output_fd = output_read
        self._zygote_exit: int | None = None  # its wait status, once reaped
        self._capture = OutputCapture(output_read, self.limits.output_bytes)
        self._reader = self._capture.thread
        self._data: socket.socket | None = None
        self._pid: int | None = None
        self.spent = 0.0

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

    def request(self, message: dict, test: str | None, timeout: float | None = None, spin: float = 0.0) -> Any:
        """Send one request to the worker; its reply's value, or the submission's error raised.

        `spin`: seconds to poll for the reply before sleeping on it (see _Deadline)."""
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
            reply = wire.recv(_Deadline(self._data, started + timeout, spin), self.budget)
        except (TimeoutError, socket.timeout):
            self._end_worker()
            self.flag("timeout", f"a call ran over {seconds(timeout)}", test)
            raise CallTimedOut(stopped_call(timeout, self.limits.call_seconds)) from None
        except (wire.ChannelClosed, ConnectionError, BrokenPipeError):
            how = self._how_it_ended()
            kind = self._kind_of_death(how)
            self.flag(kind, f"the worker {how}", test)
            raise WorkerDied(f"the process running your code {ended(how)}") from None
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
        raise as_exception(reply.get("error"), self, test)

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
        if getattr(self, "_data", None) is not None:
            # Outside a pid namespace the worker outlives its zygote (it has a session of its own),
            # holding the output pipe open: its channel's end is its cue to exit, and the output
            # reader's join below then takes milliseconds, not its 5 s timeout.
            self._end_worker()
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


class _Deadline:
    """A socket whose every recv() waits only until one deadline (no slow-drip replies).

    `spin`: the first recv() polls this long before it sleeps. A reply that comes meanwhile is
    read without the sleep and the cross-core wake-up, which cost most of a quick call's round
    trip on a VM (a ping 0.136 -> 0.061 ms, bench/roundtrip.py). The poll is a non-blocking
    read (a socket with a timeout would wait in poll() first)."""

    def __init__(self, sock: socket.socket, deadline: float, spin: float = 0.0):
        self.sock, self.deadline, self.spin = sock, deadline, spin

    def recv(self, count: int) -> bytes:
        if self.spin > 0:
            spin_until, self.spin = time.monotonic() + min(self.spin, self.deadline - time.monotonic()), 0.0
            self.sock.setblocking(False)
            while time.monotonic() < spin_until:
                try:
                    return self.sock.recv(count)
                except BlockingIOError:
                    pass
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        return self.sock.recv(count)
