"""The workers' output (stdout and stderr, one pipe), kept apart by who may read it."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading



class OutputCapture:
    """The workers' stdout and stderr (one pipe), kept apart by who may read it.

    Everything is "visible" until the first hidden test begins, then "staff" for good: a
    worker, or a file in the scratch folder, may carry what it saw in a hidden test into
    anything printed later. The switch is exact: it reads whatever is in the pipe into the
    old side first, under the lock the reader thread holds while it reads and files a chunk.
    Bytes still in a worker's own buffers at the switch come out later, as "staff".
    """

    def __init__(self, fd: int, limit: int):
        self.fd, self.limit, self.side = fd, limit, "visible"
        self.kept = {"visible": bytearray(), "staff": bytearray()}
        self.dropped = {"visible": 0, "staff": 0}
        self.lock = threading.Lock()
        os.set_blocking(fd, False)
        self.thread = threading.Thread(target=self._read_until_closed, daemon=True)
        self.thread.start()

    def _read_until_closed(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            poller.poll()
            with self.lock:  # one chunk at a time: a flood cannot keep switch() waiting
                if self._read_chunk() == 0:
                    return

    def _read_chunk(self) -> int | None:
        """File one chunk from the pipe (caller holds the lock): its size, None if none waits, 0 at the end."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return None
        room = max(self.limit - len(self.kept[self.side]), 0)
        self.kept[self.side] += chunk[:room]
        self.dropped[self.side] += max(len(chunk) - room, 0)
        return len(chunk)

    def switch(self, side: str) -> None:
        """From now on file output as `side`; what the pipe holds at this moment goes to the old side."""
        with self.lock:
            waiting = struct.unpack("i", fcntl.ioctl(self.fd, termios.FIONREAD, b"\0" * 4))[0]
            while waiting > 0 and (size := self._read_chunk()):
                waiting -= size
            self.side = side

    def text(self, side: str) -> str:
        with self.lock:
            text = self.kept[side].decode(errors="replace")
            if self.dropped[side]:
                text += f"\n[... {self.dropped[side]} more bytes of output dropped]"
        return text
