"""The worker's loop: take a request, run student code, send plain data back.

Requests come from the trusted grader over one socket:
    {"op": "call", "module": "strides", "function": "view", "args": [...], "kwargs": {...}}
    {"op": "run", "driver": "tests.drivers.optimizers:run_optimizer", "kwargs": {...}}
    {"op": "calls", "calls": [{"module": ..., "function": ..., "args": [...], "kwargs": {...}}, ...]}
Each reply is {"ok": True, "value": ...} or {"ok": False, "error": {...}}, with the
integrity flags raised meanwhile; a "calls" reply's value is one such outcome per call, in
order, up to the first that raised (the later ones are not made, as if called one by one).
A driver's value is a claim like any call's: no code here computes what it should be
(tests/drivers/ only drive; tests/oracles/ never come here). A reply that cannot be encoded
as plain data becomes an error reply: nothing but data ever leaves this process.
"""

from __future__ import annotations

import sys
import traceback

from grader.protocol import wire
from grader.worker.audit import Audit
from seam import InProcessImpl

MAX_TRACEBACK_CHARS = 4000
READY = b"R"  # the worker's first byte: its walls are up, student code may run


def serve(sock, impl: InProcessImpl, audit: Audit, drivers: dict) -> None:
    while True:
        try:
            request = wire.recv(sock)
        except wire.ChannelClosed:
            return
        reply = _handle(request, impl, audit, drivers)
        _flag_exit(reply, audit)
        reply["flags"] = audit.drain()
        converted: list[str] = []
        try:
            frame = wire.encode(reply, converted)
            if converted:
                audit.flag("unsafe-result", f"returned {converted[0]}; only its data crossed")
                reply["flags"] += audit.drain()
                frame = wire.encode(reply)
        except wire.WireError as error:
            audit.flag("unsafe-result", str(error))
            frame = wire.encode({"ok": False, "error": _unsafe(error), "flags": audit.drain()})
        _flush_output()  # so what this call printed is in the pipe before its reply is (grader/core/output_capture.py)
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):  # the grader hung up (a timeout, a fresh worker): no one to answer
            return


def _flag_exit(outcome: dict, audit: Audit) -> None:
    if not outcome["ok"] and outcome["error"]["builtin"] == "SystemExit":
        audit.flag("exit", outcome["error"]["message"] or "sys.exit()")


def _flush_output() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # closed or broken by the submission: nothing of it to keep
            pass


def _handle(request: dict, impl: InProcessImpl, audit: Audit, drivers: dict) -> dict:
    try:
        try:
            if request["op"] == "call":
                module = getattr(impl, request["module"])
                function = getattr(module, request["function"])
                value = function(*request["args"], **request["kwargs"])
            elif request["op"] == "calls":
                value = _calls(request["calls"], impl, audit, drivers)
            elif request["op"] == "run":
                value = impl.run(_driver(request["driver"], drivers), **request["kwargs"])
            elif request["op"] == "import":  # the grader asks once per problem: a broken module fails its tests at once
                getattr(impl, request["module"])
                value = True
            elif request["op"] == "ping":
                value = "pong"
            else:
                raise ValueError(f"unknown op {request['op']!r}")
        finally:
            audit.check_and_restore()  # before any more of our code runs
        return {"ok": True, "value": value}
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: report, don't die
        return {"ok": False, "error": _describe(error)}


def _calls(calls: list, impl: InProcessImpl, audit: Audit, drivers: dict) -> list[dict]:
    outcomes = []
    for call in calls:
        outcome = _handle({**call, "op": "call"}, impl, audit, drivers)  # restores what the call replaced
        _flag_exit(outcome, audit)
        outcomes.append(outcome)
        if not outcome["ok"]:
            break
    return outcomes


def _driver(qualified: str, drivers: dict):
    module_name, _, name = qualified.partition(":")
    if module_name not in drivers:
        raise ValueError(f"not a driver: {qualified}")
    return getattr(drivers[module_name], name)


def _describe(error: BaseException) -> dict:
    builtin_types = [
        klass.__name__ for klass in type(error).__mro__ if klass.__module__ == "builtins"
    ]
    try:
        text = "".join(traceback.format_exception(error))
    except BaseException:
        text = ""
    return {
        "type": type(error).__qualname__,
        "builtin": builtin_types[0] if builtin_types else "BaseException",
        "message": _safe_str(error)[:2000],
        "traceback": text[-MAX_TRACEBACK_CHARS:],
    }


def _unsafe(error: Exception) -> dict:
    return {
        "type": "UnsafeResult",
        "builtin": "TypeError",
        "message": f"the result cannot cross to the grader: {error}",
        "traceback": "",
        "flag": "unsafe-result",
    }


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except BaseException:  # a student's __str__ may raise too
        return f"<{type(error).__name__} whose str() failed>"
