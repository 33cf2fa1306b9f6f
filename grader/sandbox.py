"""Trusted side of the boundary: start the sandboxed worker and talk to it.

`Sandbox` owns one zygote (grader/worker/zygote.py) for one submission: it forks it from
this process once torch is imported and before any secret is loaded; the zygote enters new
pid, mount and network namespaces (a user namespace too where the grader is not root). The
sandbox hands it a fresh socket per worker, enforces the wall-clock limits,
keeps the first bytes of what the worker prints, and records how each worker ended.
`RemoteImpl` is what the tests see: the same `impl.module.function(...)` and
`impl.run(scenario, ...)` as the in-process backend, every call crossing as plain data.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader import phases
from grader.compat import add_note
from tests import seam

# torch is imported by Sandbox.start (zygote.preload), just before it forks the zygote: the
# zygote and its workers inherit it instead of importing it again.

PROJECT_ROOT = seam.REPO_ROOT
WORK_BASE = Path(os.environ.get("GRADER_WORK_DIR", "/var/tmp/grader-work"))
MAX_SUBMISSION_BYTES = 16 * 2**20


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


class SandboxUnavailable(RuntimeError):
    """The machine allows too little isolation, and weak isolation was not allowed."""


class SubmissionFault(Exception):
    """Base of the faults a call can end in besides an ordinary exception."""

    flag = "crash"


class CallTimedOut(SubmissionFault):
    flag = "timeout"


class WorkerDied(SubmissionFault):
    flag = "crash"


class SubmissionError(Exception):
    """An exception of the submission's that has no builtin counterpart (SystemExit...)."""


# --- what the machine allows ---------------------------------------------------------


LEVELS = ("root", "userns", "none")


def isolation_level() -> str:
    """'root' (namespaces, chroot, own uid), 'userns' (namespaces, chroot), or 'none'.

    GRADER_ISOLATION=userns|none asks for less than the machine allows (to test those paths).
    """
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "none"
    cap = os.environ.get("GRADER_ISOLATION", "root")
    if cap not in LEVELS:
        raise SandboxUnavailable(f"GRADER_ISOLATION={cap!r}: expected one of {LEVELS}")
    for level, extra in (("root", []), ("userns", ["--user", "--map-root-user"])):
        if LEVELS.index(level) < LEVELS.index(cap) or (level == "root" and os.geteuid() != 0):
            continue
        probe = ["unshare", *extra, "--net", "--mount", "--pid", "--fork", "true"]
        if subprocess.run(probe, capture_output=True, timeout=10).returncode == 0:
            return level
    return "none"


def layers_for(level: str) -> list[str]:
    common = ["rlimits(cpu,data,files,open-files)", "wall-clock-kill", "output-cap", "audit-hook", "plain-data-protocol"]
    if level == "root":
        return ["netns", "mountns+chroot", "pidns", "own-uid", "rlimit-nproc", *common]
    if level == "userns":
        return ["userns", "netns", "mountns+chroot", "pidns", *common]
    return ["process-group-kill", *common]


def python_dirs() -> list[str]:
    """Folders of the Python installation a worker must read (bound read-only into its root)."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    candidates.update(p for p in sys.path if "-packages" in p)
    dirs = set()
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.isdir(real) and not _contains(real, str(PROJECT_ROOT)):
            dirs.add(real)
    return sorted(d for d in dirs if not any(d != o and _contains(o, d) for o in dirs))


def scenario_modules() -> list[str]:
    """Our scenario modules: the worker imports them before its walls go up."""
    folder = PROJECT_ROOT / "tests" / "scenarios"
    return [f"tests.scenarios.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


# --- one submission's sandbox ------------------------------------------------------------


@dataclass
class Sandbox:
    submission: Path  # a folder holding assignment/
    limits: Limits = field(default_factory=Limits)
    allow_weak: bool = False
    level: str = ""
    problems: list[str] | None = None  # those to be graded (None: all); warm-up is chosen by them
    flags: list[dict] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.level = self.level or isolation_level()
        phases.mark("isolation probed")
        if self.level == "none" and not self.allow_weak:
            raise SandboxUnavailable(
                "this machine allows no namespaces (not root, no user namespaces): student code "
                "would run with rlimits and an audit hook only. Pass --allow-weak-sandbox to grade anyway."
            )
        WORK_BASE.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.workdir = Path(tempfile.mkdtemp(prefix="sandbox-", dir=WORK_BASE))
        self._copy_submission()
        self.uid = 200000 + os.getpid() % 100000 if self.level == "root" else None
        config = {
            "jail": self.level != "none",
            "new_root": str(self.workdir / "root"),
            "submission": str(self.workdir / "submission"),
            "scratch": str(self.workdir / "scratch"),
            "python_dirs": python_dirs(),
            "scratch_mb": self.limits.scratch_mb,
            "uid": self.uid,
            "limits": self.limits.for_worker(),
            "scenario_modules": scenario_modules(),
            "problems": self.problems,
        }
        (self.workdir / "root").mkdir()
        (self.workdir / "scratch").mkdir(mode=0o700)
        self._control, zygote_end = socket.socketpair()
        output_read, output_write = os.pipe()
        self._zygote = _fork_zygote(config, self.level, zygote_end.fileno(), output_write)
        zygote_end.close()
        os.close(output_write)
        self._output_fd = output_read
        self._zygote_exit: int | None = None  # its wait status, once reaped
        self._output = bytearray()
        self._output_dropped = 0
        self._reader = threading.Thread(target=self._drain_output, daemon=True)
        self._reader.start()
        self._data: socket.socket | None = None
        self._pid: int | None = None
        self.spent = 0.0

    def _copy_submission(self) -> None:
        """Copy assignment/'s regular files (no links) and keep their text for source checks."""
        source_dir = self.submission / "assignment"
        target_dir = self.workdir / "submission" / "assignment"
        target_dir.mkdir(parents=True)
        total = 0
        for path in sorted(source_dir.rglob("*")):
            relative = path.relative_to(source_dir)
            if path.is_symlink() or "__pycache__" in relative.parts:
                if path.is_symlink():
                    self.flag("read-outside", f"symlink in submission: assignment/{relative}", None)
                continue
            if path.is_dir():
                (target_dir / relative).mkdir(parents=True, exist_ok=True)
                os.chmod(target_dir / relative, 0o755)
            elif path.is_file():
                total += path.stat().st_size
                if total > MAX_SUBMISSION_BYTES:
                    raise ValueError(f"the submission's assignment/ is over {MAX_SUBMISSION_BYTES} bytes")
                shutil.copyfile(path, target_dir / relative)
                os.chmod(target_dir / relative, 0o644)
                if path.suffix == ".py" and len(relative.parts) == 1:
                    self.sources[path.stem] = path.read_text(encoding="utf-8", errors="replace")
        os.chmod(target_dir, 0o755)
        os.chmod(target_dir.parent, 0o755)

    def _drain_output(self) -> None:
        while chunk := os.read(self._output_fd, 65536):
            room = self.limits.output_bytes - len(self._output)
            self._output += chunk[: max(room, 0)]
            self._output_dropped += max(len(chunk) - max(room, 0), 0)

    def output(self) -> str:
        text = self._output.decode(errors="replace")
        if self._output_dropped:
            text += f"\n[... {self._output_dropped} more bytes of output dropped]"
        return text

    def flag(self, kind: str, detail: str, test: str | None) -> None:
        entry = {"kind": kind, "detail": detail, "test": test}
        if all((f["kind"], f["detail"]) != (kind, detail) for f in self.flags) and len(self.flags) < 500:
            self.flags.append(entry)

    # --- workers -----------------------------------------------------------------------

    def fresh_worker(self) -> None:
        """End the current worker (and all it started) and fork a new one."""
        if self._data is not None:
            self._data.close()
        started = time.perf_counter()
        ours, theirs = socket.socketpair()
        command = json.dumps({"op": "spawn", "previous": self._pid}).encode()
        try:
            socket.send_fds(self._control, [command], [theirs.fileno()])
        except OSError:  # no student code runs in the zygote: the grader's own failure
            raise SandboxUnavailable(f"the sandbox's zygote ended ({self._zygote_status()}):\n{self.output()}") from None
        finally:
            theirs.close()
        reply = self._control_reply()
        self._pid, self._data = reply["pid"], ours
        phases.add("worker spawn", time.perf_counter() - started)  # the first includes the zygote's set-up

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
        from grader import wire

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
            reply = wire.recv(_Deadline(self._data, started + timeout))
        except (TimeoutError, socket.timeout):
            self._end_worker()
            self.flag("timeout", f"a call ran over {timeout:.0f} s", test)
            raise CallTimedOut(f"the call ran over its time limit ({timeout:.0f} s) and was stopped") from None
        except (wire.ChannelClosed, ConnectionError, BrokenPipeError):
            how = self._how_it_ended()
            kind = "exit" if how.startswith(("exited", "closed")) else "crash"
            self.flag(kind, f"the worker {how}", test)
            raise WorkerDied(f"the worker running your code {how}") from None
        except wire.WireError as error:
            self._end_worker()
            self.flag("unsafe-result", str(error), test)
            raise SubmissionError(f"the grader refused what your code returned: {error}") from None
        finally:
            self.spent += time.monotonic() - started
        if not isinstance(reply, dict) or not isinstance(reply.get("flags", []), list):
            raise SubmissionError("the worker sent a malformed reply")
        for reported in reply.get("flags", []):
            if isinstance(reported, dict):
                self.flag(str(reported.get("kind")), str(reported.get("detail")), test)
        if reply.get("ok") is True:
            return reply.get("value")
        raise _as_exception(reply.get("error"), self, test)

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
        if getattr(self, "_zygote", None) is None:
            return
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
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.workdir)], check=False)
        self._zygote = None


# What must not be in memory when the zygote is forked: it would be in every worker's too.
SECRET_MODULES = ("solutions", "tests.hidden", "tests.public", "pytest", "_pytest", "hypothesis", "grader.plugin")


def _fork_zygote(config: dict, level: str, control_fd: int, output_fd: int) -> int:
    """Fork the zygote from this process, torch already imported; its pid (a session leader)."""
    from grader.worker import jail, zygote

    phases.mark("preload start")
    scenarios = zygote.preload(config["scenario_modules"], config["problems"])  # once, for both sides
    phases.mark("preloaded")
    loaded = [m for m in sys.modules if any(m == s or m.startswith(s + ".") for s in SECRET_MODULES)]
    if loaded:
        raise RuntimeError(f"the sandbox must start before the grader loads {loaded[:3]}: a fork would copy them")
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
        os.setsid()
        jail.die_with_parent(parent)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.dup2(control_fd, 3)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))  # none of the grader's files stay open
        for name in [k for k in os.environ if k.startswith(("GRADER_", "PYTEST"))]:
            del os.environ[name]
        if config["jail"]:
            jail.enter_namespaces(level)  # returns in pid 1 of the new pid namespace
        zygote.run(config, socket.socket(fileno=3), scenarios)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


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


def _as_exception(error: Any, sandbox: Sandbox, test: str | None) -> BaseException:
    """The submission's exception as the nearest builtin type, so pytest.raises works."""
    if not isinstance(error, dict):
        return SubmissionError("the worker sent a malformed error")
    name, message = str(error.get("builtin")), str(error.get("message", ""))
    if name == "MemoryError" or any(s in message.lower() for s in ("allocate memory", "out of memory")):
        sandbox.flag("memory", f"{error.get('type')}: {message[:200]}", test)
    klass = getattr(builtins, name, None)
    if not (isinstance(klass, type) and issubclass(klass, Exception)):
        klass = SubmissionError
        message = f"your code raised {error.get('type')}: {message}"
    try:
        exception = klass(message)
    except Exception:
        exception = SubmissionError(f"{error.get('type')}: {message}")
    exception.from_submission = True
    if error.get("traceback"):
        add_note(exception, "--- where your code raised it ---\n" + str(error["traceback"]))
    return exception


# --- what the tests see ------------------------------------------------------------------


class RemoteImpl:
    """The implementation under test, living in the sandbox; plain data in, plain data out."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox
        self.label = f"the submission {sandbox.submission.name} (sandboxed)"
        self._test: str | None = None
        self._poison: SubmissionFault | None = None
        self._test_started = 0.0
        self._problem: str | None = None
        self._stale = True
        # Time is budgeted per problem, so hangs in one problem cannot starve the others;
        # a function that hung once gets a short leash after (a hang costs seconds per case).
        self._spent: dict[str, float] = {}
        self._slowest_ok: dict[str, float] = {}
        self._hung: set[str] = set()

    def begin_test(self, nodeid: str, problem: str) -> None:
        """A test gets a fresh worker unless the previous test passed in the same problem.

        So nothing a failing, crashing or hanging test left behind reaches another test,
        and no problem's tests share a worker with another problem's; passing tests of
        one problem share one (a fork per test case would cost more than the tests).
        """
        self._test, self._poison, self._test_started = nodeid, None, time.monotonic()
        if self._stale or problem != self._problem:
            self._sandbox.fresh_worker()
            self._stale, self._problem = False, problem

    def end_test(self, passed: bool) -> None:
        if not passed:
            self._stale = True

    def _request(self, message: dict, key: str) -> Any:
        if self._poison is not None:
            raise type(self._poison)(f"{self._poison} (earlier in this test; not retried)")
        limits = self._sandbox.limits
        if time.monotonic() - self._test_started > limits.test_seconds:
            self._poison = CallTimedOut(f"this test's time limit ({limits.test_seconds:.0f} s) is spent")
            raise self._poison
        problem_left = limits.submission_seconds / len(seam.MODULES) - self._spent.get(self._problem, 0.0)
        if problem_left <= 0:
            self._poison = CallTimedOut(f"this problem's share of the time limit ({limits.submission_seconds / len(seam.MODULES):.0f} s) is spent")
            raise self._poison
        timeout = min(limits.call_seconds, problem_left)
        if key in self._hung:
            timeout = min(timeout, max(HUNG_LEASH_SECONDS, 20 * self._slowest_ok.get(key, 0.0)))
        started = time.monotonic()
        try:
            value = self._sandbox.request(message, self._test, timeout)
        except SubmissionFault as fault:
            self._poison = fault
            if isinstance(fault, CallTimedOut):
                self._hung.add(key)
            raise
        finally:
            elapsed = time.monotonic() - started
            self._spent[self._problem] = self._spent.get(self._problem, 0.0) + elapsed
            phases.add(f"call {key}", elapsed)
        self._slowest_ok[key] = max(self._slowest_ok.get(key, 0.0), elapsed)
        return value

    def __getattr__(self, module: str) -> "_RemoteModule":
        if module.startswith("_") or module not in seam.MODULES:
            raise AttributeError(f"an implementation has no module {module!r}; it has {seam.MODULES}")
        remote = _RemoteModule(self, module)
        setattr(self, module, remote)  # found directly from now on
        return remote

    def run(self, scenario: Callable[..., Any], /, **inputs: Any) -> Any:
        name = f"{scenario.__module__}:{scenario.__qualname__}"
        if not scenario.__module__.startswith("tests.scenarios."):
            raise ValueError(f"{name} is not a scenario (they live in tests/scenarios/)")
        return self._request({"op": "run", "scenario": name, "kwargs": inputs}, name)

    def source(self, name: str) -> str:
        """The module's text as submitted (read before any of it ran)."""
        if name not in self._sandbox.sources:
            raise FileNotFoundError(f"assignment/{name}.py is missing from the submission")
        return self._sandbox.sources[name]

    def __repr__(self) -> str:
        return f"<{self.label}>"


class _RemoteModule:
    def __init__(self, impl: RemoteImpl, name: str):
        self._impl, self._name = impl, name

    def __getattr__(self, function: str) -> Callable[..., Any]:
        if function.startswith("__"):
            raise AttributeError(function)

        def call(*args: Any, **kwargs: Any) -> Any:
            message = {"op": "call", "module": self._name, "function": function, "args": list(args), "kwargs": kwargs}
            return self._impl._request(message, f"{self._name}.{function}")

        call.__name__ = call.__qualname__ = f"{self._name}.{function}"
        setattr(self, function, call)
        return call
