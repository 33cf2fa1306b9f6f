"""The sandbox's walls, raised from inside the namespaces `unshare` made.

The zygote (pid 1 of a new pid, mount and network namespace) builds a new root that
holds only the system's directories, the Python installation, the submission (read
only) and an empty scratch folder, and chroots into it: the project, the reference,
the hidden tests, the results and other submissions are not in it. Each worker it
forks then takes rlimits and, where the zygote is real root, a uid of its own.
"""

from __future__ import annotations

import ctypes
import os
import resource

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
SUBMISSION, SCRATCH = "/submission", "/tmp"

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    result = _libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() or None
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def _bind_read_only(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(source, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_root(new_root: str, submission: str, python_dirs: list[str], scratch_mb: int, uid: int | None) -> None:
    """Make `new_root` a root file system holding only what a worker may see, and enter it."""
    _mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for path in SYSTEM_DIRS + tuple(python_dirs):
        if os.path.isdir(path):
            _bind_read_only(path, new_root + path)
    # /dev as the host has it (the GPU's /dev/nvidia* included), but a private /dev/shm.
    os.makedirs(new_root + "/dev", exist_ok=True)
    _mount("/dev", new_root + "/dev", None, MS_BIND | MS_REC)
    _mount("tmpfs", new_root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    os.makedirs(new_root + "/proc", exist_ok=True)
    _mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV)
    _bind_read_only(submission, new_root + SUBMISSION)
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    os.makedirs(new_root + SCRATCH, exist_ok=True)
    _mount("tmpfs", new_root + SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_mb}m,mode=0700{owner}")
    os.chroot(new_root)
    os.chdir("/")


def limit_process(limits: dict, uid: int | None) -> None:
    """rlimits for one worker, then (as real root) a uid no other process has."""
    rlimits = {
        resource.RLIMIT_CPU: limits["cpu_seconds"],
        resource.RLIMIT_FSIZE: limits["file_bytes"],
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_CORE: 0,
    }
    if limits.get("data_bytes"):
        rlimits[resource.RLIMIT_DATA] = _current_data_bytes() + limits["data_bytes"]
    if uid is not None:
        # RLIMIT_NPROC counts the processes of a uid; root is exempt, so it needs the uid drop.
        rlimits[resource.RLIMIT_NPROC] = limits["processes"]
    for kind, value in rlimits.items():
        resource.setrlimit(kind, (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _current_data_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0
