"""The grading service's own process (`python -m grader.core.service_process FD PROBLEMS_JSON`,
started by GradingService in grader/core/service.py, whose docstring tells the whole design): it
imports the grader and torch and warms up once, then forks one grading process per job and reaps
it; each grading process reads its own job, grades it as `python -m grader.core.grade` would and
answers on its own socket.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path

from grader.core.service import MAX_MESSAGE
from grader.worker import forking

REAP_GRACE = 5.0  # seconds a grading process whose channel closed may take to end before it is killed


def main(argv: list[str]) -> None:
    """`python -m grader.core.service_process FD PROBLEMS_JSON`: be the service on socket FD until it closes."""
    control = socket.socket(fileno=int(argv[0]))
    _preload(json.loads(argv[1]))
    control.sendall(json.dumps({"ready": True}).encode())
    _serve(control)


def _preload(problems: list[str] | None) -> None:
    """What `python -m grader.core.grade` holds when its sandbox forks the zygote, and no more."""
    from grader.core import grade, machine, zygote_fork  # noqa: F401  (the grader, as a grading process imports it)
    from grader.worker import zygote

    zygote.preload(machine.driver_modules(), problems)
    try:  # the machine's answers, probed once here instead of once per submission (cached)
        level = machine.isolation_level()
        machine.namespaces(level)
        machine.memory_layer(level)
        machine.python_dirs()
    except Exception:  # noqa: BLE001 (each grading process probes again and reports it)
        pass
    zygote_fork.refuse_secrets("the grading service")


def _serve(control: socket.socket) -> None:
    while True:
        message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 1)
        if not message:  # the driver closed the channel, or ended: so does every grading process
            _end_all()
            return
        command = json.loads(message)
        if command["op"] == "fork":
            from grader.core import zygote_fork

            zygote_fork.refuse_secrets("the grading service")  # before every fork: none of them in a grading process
            sys.stdout.flush()
            sys.stderr.flush()
            service = os.getpid()
            pid = forking.fork()
            if pid == 0:
                _be_grading_process(control, fds[0], service)
            os.close(fds[0])
            control.sendall(json.dumps({"pid": pid}).encode())
        elif command["op"] == "reap":
            control.sendall(json.dumps({"status": _wait_for(command["pid"])}).encode())


def _wait_for(pid: int) -> str:
    from grader.worker.zygote import _describe_status

    deadline = time.monotonic() + REAP_GRACE
    while True:
        try:
            ended, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return "ended"
        if ended:
            return _describe_status(status)
        if time.monotonic() > deadline:  # it closed its channel but lingers: end it
            os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.005)


def _end_all() -> None:
    os.killpg(0, signal.SIGKILL)  # our own session: this process and every grading process


def _be_grading_process(control: socket.socket, fd: int, service: int) -> None:
    """The grading process: never returns."""
    code = 1
    try:
        control.close()
        from grader.worker import jail

        jail.die_with_parent(service)
        channel = socket.socket(fileno=fd)
        job = json.loads(channel.recv(MAX_MESSAGE))
        log = _fresh_process(job)
        channel.sendall(json.dumps(_grade(job, log)).encode())
        code = 0
    except BaseException:  # noqa: BLE001 (the channel closes unanswered: the driver reports how it ended)
        traceback.print_exc()
    finally:
        from grader.core import phases

        phases.flush()
        os._exit(code)


def _fresh_process(job: dict):
    """What a new interpreter would have that a fork does not: the job's own state. Returns its log."""
    import random

    import numpy

    from grader.worker import jail

    log = tempfile.TemporaryFile(prefix="grading-")
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    random.seed()
    numpy.random.seed()
    os.environ["GRADER_PROGRESS_FILE"] = job["progress"]
    sys.argv[:] = ["grader.core.grade", job["submission"]]
    jail.replace_command_line(f"grading {job['submission']}".encode())  # what `ps` shows staff
    return log


def _grade(job: dict, log) -> dict:
    from grader.core.grade import grade_one
    from grader.core.limits import Limits

    try:
        grade_one(Path(job["submission"]), Path(job["out_file"]), Limits(**job["limits"]), job["allow_weak"], job["modules"])
        return {"ok": True}
    except BaseException:  # noqa: BLE001 (a grader error: the driver records it and retries next run)
        traceback.print_exc()
        sys.stderr.flush()
        log.seek(0)
        return {"ok": False, "error": log.read().decode(errors="replace")[-3000:]}


if __name__ == "__main__":
    main(sys.argv[1:])
