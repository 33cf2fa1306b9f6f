"""Trusted side: what one grader process holds while it runs, and lets go however it ends.

Work folders (the staged copy of a submission, a sandbox's folder) and worker uids are each
held by an flock on a lock file, which the kernel releases when the process ends, even by
`kill -9`. So a folder whose lock nobody holds belongs to a run that ended without cleaning
up, and the next run removes it (`sweep`); a folder whose lock is held belongs to a grader
running beside this one and is left alone. A uid is held the same way, so no two sandboxes
on a machine share one, whatever their pids. SIGTERM and SIGHUP run this process's clean-ups
before it dies of the signal as it would have (`cleaned_up_on_termination`).

The lock files are opened close-on-exec, and the sandbox's zygote closes every inherited
descriptor at once, so no child holds a lock after this process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

LOCK_NAME = ".grader-owner.lock"
FIRST_WORKER_UID, WORKER_UIDS = 200_000, 100_000


# --- work folders --------------------------------------------------------------------------

_held_folders: dict[Path, int] = {}  # folder -> the descriptor holding its lock


def work_folder(parent: Path, prefix: str) -> Path:
    """A new folder under `parent` that this process holds until `remove_folder` or its end."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    # Locked under another name first: a sweep never sees the lock file unlocked.
    pending = folder / (LOCK_NAME + ".new")
    fd = os.open(pending, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.rename(pending, folder / LOCK_NAME)
    _held_folders[folder] = fd
    return folder


def remove_folder(folder: Path) -> None:
    """Remove a folder this process made (and its lock with it)."""
    _remove_tree(folder)
    fd = _held_folders.pop(folder, None)
    if fd is not None:
        os.close(fd)


def sweep(parent: Path, prefix: str) -> list[Path]:
    """Remove the folders `prefix`* under `parent` whose owner has ended; those removed."""
    removed = []
    try:
        candidates = sorted(parent.glob(prefix + "*"))
    except OSError:
        return removed
    for folder in candidates:
        if folder in _held_folders or not folder.is_dir() or folder.is_symlink():
            continue
        fd = _lock_if_free(folder / LOCK_NAME)
        if fd is None:  # held by a live grader, or no lock file: not ours to judge
            continue
        try:
            _remove_tree(folder)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


def _lock_if_free(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


def _remove_tree(folder: Path) -> None:
    # rm: never crosses into another file system (a mount left by a sandbox), follows no link.
    subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


# --- worker uids -----------------------------------------------------------------------------


@dataclass
class UidLease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def worker_uid(folder: Path) -> UidLease:
    """A uid in 200000..299999 that no other sandbox on this machine holds while this one does:
    the lowest free one (so the lock files are as many as sandboxes ever ran at once)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for slot in range(WORKER_UIDS):
        path = folder / f"uid-{slot}"
        fd = os.open(path, os.O_CREAT | os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return UidLease(FIRST_WORKER_UID + slot, fd)
    raise RuntimeError(f"all {WORKER_UIDS} worker uids are held by running sandboxes")


# --- dying of a signal ---------------------------------------------------------------------

_cleanups: dict[int, Callable[[], None]] = {}
TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def at_termination(cleanup: Callable[[], None]) -> int:
    """Run `cleanup` if SIGTERM/SIGHUP ends this process (inside `cleaned_up_on_termination`); a key to cancel it."""
    key = id(cleanup)
    _cleanups[key] = cleanup
    return key


def cancel(key: int) -> None:
    _cleanups.pop(key, None)


@contextlib.contextmanager
def cleaned_up_on_termination() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP first run the registered clean-ups (newest first), then
    end the process as they would have (or call the handler that was there before)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the next run's sweep cleans up instead
        return
    previous = {number: signal.getsignal(number) for number in TERMINATING}
    previous = {number: before for number, before in previous.items() if before is not signal.SIG_IGN}

    def handler(number, frame):
        for key in reversed(list(_cleanups)):
            with contextlib.suppress(Exception):
                _cleanups.pop(key)()
        before = previous[number]
        if callable(before):
            before(number, frame)
            return
        signal.signal(number, signal.SIG_DFL if before is None else before)
        os.kill(os.getpid(), number)

    for number in TERMINATING:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, before if before is not None else signal.SIG_DFL)
