"""The zygote: forked from the grader with torch already imported, it raises the walls,
then forks one worker at a time.

grader/core/zygote_fork.py imports what workers need (`preload`), then forks: the child enters
every namespace the machine allows (`jail.enter_namespaces`; it is then pid 1 there) and
calls `run`, which reads commands from the control socket:
    {"op": "spawn"} + a socket fd  ->  kill every other process, fork a worker on that socket
        ("fresh_scratch": true: empty the scratch folder first, so that nothing an earlier
        worker left reaches the new one: a `fresh_process` driver's round trip)
    {"op": "reap", "pid": N}       ->  how worker N ended (waiting a moment for it)
Neither the zygote nor a worker starts an interpreter or imports torch: forked from the
grader before it loads the rubric, the reference or the tests, they hold none of those,
and a worker restarted after a crash costs milliseconds.
"""

from __future__ import annotations

import functools
import gc
import importlib
import json
import os
import signal
import socket
import stat
import sys
import time
import traceback

from grader.worker.settings import ZygoteSettings

# Problems whose tests reach torch._dynamo's lazy import (torch.optim's first step(),
# FlopCounterMode's first op): 0.8 s, worth paying before the fork only when they are graded.
DYNAMO_PROBLEMS = frozenset({"flops", "optimizers", "accounting", "training"})


def preload(driver_modules: list[str], problems: list[str] | None = None) -> dict:
    """Import and warm up everything a worker needs, in the grader, before the fork: after
    the walls go up the project's files are not there to import, and what is paid here is
    paid once for the grader, the zygote and every worker. `problems`: those being graded
    (None: all). Returns the driver modules (tests/drivers/) by name: nothing that computes an
    expected value is imported here, so none of it is in a worker's memory."""
    import beartype  # noqa: F401
    import einops  # noqa: F401
    import jaxtyping  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401

    from grader.worker import audit, jail, serve, syscalls  # noqa: F401
    import seam  # noqa: F401

    drivers = {name: importlib.import_module(name) for name in driver_modules}
    _warm_up(problems is None or not DYNAMO_PROBLEMS.isdisjoint(problems))
    return drivers


def run(settings: ZygoteSettings, control: socket.socket, drivers: dict) -> None:
    """Be the zygote: enter the new root, then fork workers as asked until the grader hangs up.

    `drivers`: what `preload` returned in the grader before the fork.
    """
    import torch

    from grader.worker import audit, jail, serve, syscalls
    from seam import InProcessImpl

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the zygote forks: it must not start an OpenMP pool of its own
    if settings.jail:
        table = jail.root_table(
            settings.submission, settings.python_dirs, settings.masked, settings.scratch_mb, settings.uid, jail.device_nodes()
        )
        jail.enter_root(settings.new_root, table)
        submission, scratch = jail.SUBMISSION, jail.SCRATCH
    else:
        submission, scratch = settings.submission, settings.scratch
    sys.path[:] = [submission] + [p for p in sys.path if p and _under_any(p, settings.python_dirs)]
    own_files = {getattr(m, "__file__", None) for m in list(sys.modules.values())} - {None}
    watcher = audit.Audit([submission, scratch, *settings.python_dirs], [scratch], own_files)
    rules = syscalls.build() if settings.seccomp else None
    # The submission's package bound once, here: an empty package object, no student code runs
    # until a worker imports a module of it. In each worker, binding it again would walk
    # sys.modules, and the copy-on-write faults of that walk cost more than the fork.
    impl = InProcessImpl("assignment", submission, "the submission", check_own_work=False)  # checked on the trusted side

    def start_worker(data_fd: int) -> None:
        gc.unfreeze()  # student code sees the heap as in any Python process (grader/worker/forking.py froze it)
        control.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        jail.limit_process(settings.limits, settings.uid)
        torch.set_num_threads(threads)
        os.chdir(scratch)
        os.environ.update(TMPDIR=scratch, HOME=scratch, PYTHONDONTWRITEBYTECODE="1")
        sys.dont_write_bytecode = True
        channel = socket.socket(fileno=data_fd)
        watcher.install()
        if rules is not None:
            syscalls.install(rules)  # the last wall: from here on only student code is new
        channel.sendall(serve.READY)  # the walls stand: a failure before this is the grader's
        serve.serve(channel, impl, watcher, drivers)

    audit.forget_our_modules()  # once for every worker; nothing below imports a module of ours
    _control_loop(control, start_worker, scratch)


@functools.cache
def _warm_up(dynamo: bool) -> None:
    """Pay torch's lazy imports and first-use costs once, before the fork, not in every worker.

    `dynamo`: also the optimizers' first step, which imports torch._dynamo (and sympy).

    One thread only: a fork must not inherit a started OpenMP pool (its threads would be
    gone in the child).
    """
    import io

    import einops
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4, bias=False), torch.nn.Linear(4, 1))
    torch.nn.init.trunc_normal_(model[0].weight, std=0.5, a=-1.5, b=1.5)
    optimizers = (torch.optim.AdamW, torch.optim.SGD, torch.optim.Adagrad) if dynamo else ()
    for optimizer in (make(model.parameters()) for make in optimizers):
        loss = torch.nn.functional.mse_loss(model(torch.ones(2, 4)).squeeze(-1), torch.zeros(2))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        optimizer.load_state_dict(optimizer.state_dict())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.nn.functional.cross_entropy(model(torch.ones(2, 4)), torch.zeros(2, dtype=torch.long))
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict()}, buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=True)
    einops.rearrange(torch.ones(2, 6), "b (h d) -> b h d", h=2)
    einops.reduce(torch.ones(2, 6), "b d -> b", "mean")
    einops.einsum(torch.ones(2, 3), torch.ones(3, 4), "a b, b c -> a c")
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        a, b = torch.ones(2, 3, 5, dtype=dtype), torch.ones(2, 4, 5, dtype=dtype)
        torch.einsum("bij,bkj->bik", a, b)
        einops.einsum(a, b, "... i j, ... k j -> ... i k")
        einops.reduce(a, "... h -> ...", "mean")
        (a @ b.mT).sum().item()
    torch.manual_seed(0)
    torch.set_num_threads(threads)  # the caller's count again; no pool was started


def _control_loop(control: socket.socket, start_worker, scratch: str) -> None:
    ended: dict[int, int] = {}
    while True:
        message, fds, _, _ = socket.recv_fds(control, 4096, 1)
        if not message:
            _kill_everyone(list(ended))
            return
        command = json.loads(message)
        if command["op"] == "spawn":
            _kill_everyone([command.get("previous")])
            _reap(ended)
            if command.get("fresh_scratch"):
                _empty(scratch)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    start_worker(fds[0])
                except BaseException:  # before READY: the trusted side reports it as the sandbox's failure
                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            os.close(fds[0])
            control.sendall(json.dumps({"pid": pid}).encode())
        elif command["op"] == "reap":
            control.sendall(json.dumps({"status": _wait_for(command["pid"], ended)}).encode())


def _empty(folder: str) -> None:
    """Remove everything in `folder` (links removed, never followed); the folder stays, and so
    does what is mounted in it (a venv under /tmp is bound over the scratch tmpfs, read-only)."""
    device = os.stat(folder).st_dev
    emptied = []  # the folders walked, each before the folders inside it
    for root, dirs, files, root_fd in os.fwalk(folder):  # links are never followed
        real = [d for d in dirs if _is_real_dir(d, root_fd, device)]
        for name in [d for d in dirs if d not in real] + files:
            _quietly(os.unlink, name, dir_fd=root_fd)
        dirs[:] = real
        emptied += [os.path.join(root, d) for d in real]
    # Only those: a walk of everything would go down into the mounts too (a venv under /tmp is
    # one, with torch's thousands of folders): 57 ms per fresh-process driver call, not 0.1 ms.
    for path in reversed(emptied):
        _quietly(os.rmdir, path)  # a folder holding a mount stays


def _is_real_dir(name: str, dir_fd: int, device: int) -> bool:
    """A folder on `device` itself: not a link to one, not a mount."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    return stat.S_ISDIR(info.st_mode) and info.st_dev == device


def _quietly(operation, *args, **kwargs) -> None:
    try:
        operation(*args, **kwargs)
    except OSError:  # a mount point, a read-only bind: left as it is
        pass


def _kill_everyone(pids) -> None:
    """End the previous worker and everything it started."""
    if os.getpid() == 1:
        # pid 1 of our own pid namespace: -1 means every other process in it, no more.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    for pid in pids:  # no pid namespace: the worker's session (it called setsid)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _reap(ended: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ended[pid] = status


def _wait_for(pid: int, ended: dict[int, int], grace: float = 0.5) -> str:
    deadline = time.monotonic() + grace
    while pid not in ended and time.monotonic() < deadline:
        _reap(ended)
        time.sleep(0.005)
    if pid not in ended:  # alive but closed its channel: end it
        _kill_everyone([pid])
        while pid not in ended:
            _reap(ended)
            time.sleep(0.005)
        return "closed its channel to the grader (and was ended)"
    return _describe_status(ended.pop(pid))


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"killed by signal {number} ({signal.Signals(number).name})"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _under_any(path: str, roots: list[str]) -> bool:
    path = os.path.abspath(path)
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
