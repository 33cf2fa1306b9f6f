"""The leak probe's time limits: run a piece of the bundle's code for at most so many seconds, and
put back afterwards every file descriptor it closed or replaced.

Part of the probe (see leak_probe.py): it runs in the bundle's copy and imports only the standard library.
"""

from __future__ import annotations

import fcntl
import os
import signal


class Timeout(BaseException):  # not an Exception: a candidate's `except Exception` cannot swallow it
    pass


def limited(call, seconds: float):
    """("ok", value), ("raised", exception type) or ("timeout", None); the process's file
    descriptors are as they were afterwards (see FdGuard)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with FdGuard():
            return "ok", call()
    except Timeout:
        return "timeout", None
    except (Exception, SystemExit) as error:
        return "raised", type(error)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _alarm(signum, frame):
    raise Timeout()


class FdGuard:
    """Put back every file descriptor a call closed or replaced. Helpers are called with whatever
    the API functions get, and one given an int may take it for a file descriptor and close it
    (ElementTree.parse does): pytest's capture files and the report must survive that."""

    def __enter__(self):
        self.saved = {}
        for fd in _open_fds():
            try:
                self.saved[fd] = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000), _identity(fd))
            except OSError:
                pass  # the descriptor listing itself, closed already
        return self

    def __exit__(self, *exc):
        for fd, (copy_fd, identity) in self.saved.items():
            if _identity(fd) != identity:
                os.dup2(copy_fd, fd, inheritable=False)
            os.close(copy_fd)
        return False


def _open_fds() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return sorted(int(name) for name in os.listdir(folder))
        except OSError:
            continue
    return [0, 1, 2]


def _identity(fd: int):
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    return status.st_dev, status.st_ino

