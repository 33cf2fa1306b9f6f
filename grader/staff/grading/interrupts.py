"""Trusted side (staff tooling): Ctrl-C and SIGTERM stop a staff command at once, never mid-write.

Inside `stop_on_signals()`, SIGINT and SIGTERM raise `Interrupted` in the main thread, so the
command can stop its workers, say what was kept and how to resume, and exit non-zero (128 +
the signal's number, as a shell reports it). Inside `deferred()` (recording one student's grade)
a signal waits for the block to end: a grade is recorded whole or not at all, and the stop comes
right after.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOPPED = tuple(128 + number for number in SIGNALS)  # the exit statuses of a command they stopped


class Interrupted(Exception):
    """A stop asked for by a signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


_deferring = 0
_pending: int | None = None


def _handler(signum, frame) -> None:
    global _pending
    if _deferring:
        _pending = signum
        return
    raise Interrupted(signum)


@contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise Interrupted in the main thread while the block runs."""
    previous = {number: signal.signal(number, _handler) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def deferred():
    """A block no signal cuts short: a signal that arrives meanwhile raises Interrupted at its end."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            raise Interrupted(signum)
