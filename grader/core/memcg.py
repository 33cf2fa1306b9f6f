"""Trusted side: a memory cgroup per sandbox, so that the kernel counts all of its memory.

rlimits count parts of a process (RLIMIT_DATA: private mappings; RLIMIT_AS: address space,
reservations included); a memory cgroup counts what its processes really use: anonymous
memory, shared mappings, SysV and POSIX shared memory, tmpfs pages (scratch, /dev/shm),
as isolate and DOMjudge do. Over its limit the kernel's OOM killer ends the biggest process
in it (the worker: the zygote is exempted) and counts an `oom_kill`, which the sandbox reads
to tell a memory kill from any other SIGKILL.

cgroup v1 (a `memory` hierarchy) and v2 (the unified one, where our cgroup's parent
delegates the memory controller) are both handled; without either, or without the right to
make a child cgroup (not root), `create` returns None and the sandbox falls back to RLIMIT_AS.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

_counter = itertools.count()
PREFIX = "grader-"  # then the grader's pid: a cgroup whose grader is gone is removed by the next


class MemoryCgroup:
    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version

    def set_limit(self, limit_bytes: int) -> None:
        if self.version == 1:
            names = ["memory.limit_in_bytes"]
            if (self.path / "memory.memsw.limit_in_bytes").exists():  # swap counts too
                names.append("memory.memsw.limit_in_bytes")  # never below the first: raising goes memsw first
            if limit_bytes > int((self.path / names[0]).read_text()):
                names.reverse()
            for name in names:
                (self.path / name).write_text(str(limit_bytes))
        else:
            (self.path / "memory.max").write_text(str(limit_bytes))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")

    def join(self) -> None:
        """Move the calling process into this cgroup (its children follow)."""
        (self.path / "cgroup.procs").write_text("0")

    def oom_kills(self) -> int:
        events = self.path / ("memory.oom_control" if self.version == 1 else "memory.events")
        for line in events.read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def peak_bytes(self) -> int:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return 0

    def remove(self, wait: float = 5.0) -> None:
        """Remove the cgroup once empty: a pid namespace's last processes die after its pid 1."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY: processes still in it
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)


def stale(parent: Path) -> list[Path]:
    """Our cgroups whose grader is gone (killed before it could remove them)."""
    found = []
    for folder in parent.glob(PREFIX + "*"):
        pid = folder.name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            found.append(folder)
    return found


def remove_stale(parent: Path) -> None:
    for folder in stale(parent):
        try:
            folder.rmdir()
        except OSError:  # still holding processes: a later grader removes it
            pass


def own_cgroup() -> tuple[Path, int] | None:
    """Where this process's memory cgroup is (its folder, the cgroup version), if anywhere."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            return (folder, 1) if (folder / "memory.limit_in_bytes").exists() else None
    for line in lines:
        if line.startswith("0::"):
            folder = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
            if "memory" in (folder / "cgroup.subtree_control").read_text().split():
                return folder, 2
    return None


def create(limit_bytes: int) -> MemoryCgroup | None:
    """A new child of our memory cgroup limited to `limit_bytes`; None where none can be made."""
    if os.environ.get("GRADER_MEMORY_CGROUP") == "0":  # to test the RLIMIT_AS fallback
        return None
    try:
        found = own_cgroup()
        if found is None:
            return None
        parent, version = found
        remove_stale(parent)
        cgroup = MemoryCgroup(parent / f"{PREFIX}{os.getpid()}-{next(_counter)}", version)
        cgroup.path.mkdir()
    except OSError:
        return None
    try:
        cgroup.set_limit(limit_bytes)
    except OSError:
        cgroup.remove()
        return None
    return cgroup
