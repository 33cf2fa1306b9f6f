"""Notice what a submission tries, and refuse what it must not do.

A Python audit hook (PEP 578) sees imports, file opens, sockets and process spawns.
It refuses those that reach outside the worker's folders and records each attempt
as an integrity flag for staff. The walls themselves are the sandbox's (namespaces,
chroot, uid, rlimits): this hook is the layer that names what happened, and the one
that still stands where the machine allows no namespaces.

The flags travel back with each reply; since they come from the untrusted side they
inform staff and never add points.
"""

from __future__ import annotations

import builtins
import os
import socket
import sys
import unittest

import numpy
import torch
import torch.testing

READ_ROOTS_EXTRA = ("/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev")
NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
SPAWN_EVENTS = {"os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn"}
DELETE_EVENTS = {"os.remove", "os.rmdir", "os.rename", "shutil.rmtree", "os.truncate", "os.chmod", "os.chown"}
FORBIDDEN_PACKAGES = ("solutions", "grader", "tests", "seam")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def watched_objects() -> list[tuple[str, object, str, object]]:
    """What a cheat would patch to change a comparison: (label, owner, attribute, original)."""
    owners = [
        ("torch", torch, ["allclose", "isclose", "equal", "testing"]),
        ("torch.testing", torch.testing, ["assert_close"]),
        ("torch.Tensor", torch.Tensor, ["__eq__", "allclose", "equal"]),
        ("numpy", numpy, ["allclose", "testing"]),
        ("numpy.testing", numpy.testing, ["assert_allclose"]),
        ("unittest.TestCase", unittest.TestCase, ["assertEqual", "assertTrue", "assertAlmostEqual"]),
        ("builtins", builtins, sorted(vars(builtins))),
    ]
    try:
        import pytest

        owners.append(("pytest", pytest, ["approx", "raises"]))
    except ImportError:  # pytest is not needed in the worker; watch it only if it is there
        pass
    return [(f"{label}.{attr}", owner, attr, getattr(owner, attr)) for label, owner, attrs in owners for attr in attrs]


class Audit:
    """Flags raised since the last drain, plus the rules that raise them."""

    def __init__(self, read_roots: list[str], write_roots: list[str], own_files: set[str]):
        self.read_roots = tuple(read_roots) + READ_ROOTS_EXTRA
        self.write_roots = tuple(write_roots) + ("/dev/null", "/dev/shm")
        # Our own modules' files: tracebacks look up their lines; not there, not a cheat.
        self.own_files = own_files
        self.flags: list[dict] = []
        self.seen: set[tuple[str, str]] = set()
        self.watched = watched_objects()
        self.builtins_snapshot = dict(vars(builtins))
        self.others = [w for w in self.watched if w[1] is not builtins]
        self.active = False

    def flag(self, kind: str, detail: str) -> None:
        if (kind, detail) not in self.seen and len(self.seen) < 200:
            self.seen.add((kind, detail))
            self.flags.append({"kind": kind, "detail": detail[:300]})

    def drain(self) -> list[dict]:
        self.check_and_restore()
        flags, self.flags = self.flags, []
        return flags

    def install(self) -> None:
        """Start watching (in a worker, after `forget_our_modules` ran in its zygote)."""
        sys.meta_path.insert(0, _RefuseForbidden(self))
        self.active = True
        sys.addaudithook(self._hook)

    def check_and_restore(self) -> None:
        """Flag what student code replaced, and put it back: our own loop uses builtins and torch."""
        # Runs after every call: compare builtins as one dict (in C), item by item only if changed.
        suspects = self.watched if vars(builtins) != self.builtins_snapshot else self.others
        for label, owner, attr, original in suspects:
            if getattr(owner, attr, None) is not original:
                self.flag("patched", label)
                try:
                    setattr(owner, attr, original)
                except (AttributeError, TypeError):
                    pass

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            self._on_open(args)
        elif event == "import":
            self._on_import(args[0])
        elif event in NETWORK_EVENTS:
            self._refuse("network", f"{event} {args[1:2]!r}", ConnectionRefusedError)
        elif event == "socket.__new__" and args[1] not in (socket.AF_UNIX, -1):  # -1: an open fd
            # Named here, before the system call: the kernel's filter would kill the worker.
            self._refuse("network", f"socket(family={args[1]})", ConnectionRefusedError)
        elif event in SPAWN_EVENTS:
            self._refuse("subprocess", f"{event} {str(args[:2])[:200]}", PermissionError)
        elif event in DELETE_EVENTS and args:
            path = args[0]
            if isinstance(path, (str, bytes)) and not self._under(path, self.write_roots):
                self._refuse("write-outside", f"{event} {os.fsdecode(path)}", PermissionError)

    def _on_open(self, args: tuple) -> None:
        path, mode, flags = (tuple(args) + (None, None))[:3]
        if not isinstance(path, (str, bytes)):
            return  # an already-open file descriptor
        writes = bool((flags or 0) & WRITE_FLAGS) or any(c in (mode or "") for c in "wax+")
        if writes and not self._under(path, self.write_roots):
            self._refuse("write-outside", os.fsdecode(path), PermissionError)
        elif not writes and not self._under(path, self.read_roots + self.write_roots):
            if os.fsdecode(path) in self.own_files:
                raise PermissionError(path)
            self._refuse("read-outside", os.fsdecode(path), PermissionError)

    def _on_import(self, name: str) -> None:
        if name.split(".")[0] in FORBIDDEN_PACKAGES:
            self._refuse("import-reference", name, ModuleNotFoundError)

    def _refuse(self, kind: str, detail: str, error: type[Exception]) -> None:
        self.flag(kind, detail)
        raise error(f"the grader's sandbox refused this ({kind}): {detail}")

    @staticmethod
    def _under(path, roots: tuple) -> bool:
        # Both the path as given and where its links lead: a link in scratch may point anywhere.
        for candidate in {os.path.abspath(os.fsdecode(path)), os.path.realpath(os.fsdecode(path))}:
            if not any(candidate == root or candidate.startswith(root.rstrip("/") + "/") for root in roots):
                return False
        return True


def forget_our_modules() -> None:
    """Our own modules leave sys.modules, so that importing them (or the reference, or the
    tests) goes through the finder `Audit.install` adds and is refused. The zygote calls this
    once, before it forks any worker: in each worker the walk over sys.modules cost 4.8 ms of
    copy-on-write faults."""
    for name in [m for m in sys.modules if m.split(".")[0] in FORBIDDEN_PACKAGES]:
        del sys.modules[name]


class _RefuseForbidden:
    """A meta path finder: `importlib.import_module("solutions")` raises no audit event."""

    def __init__(self, audit: Audit):
        self.audit = audit

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN_PACKAGES:
            self.audit._refuse("import-reference", name, ModuleNotFoundError)
        return None
