"""The sandbox's walls: new namespaces, a new root, rlimits and a uid of its own.

`enter_namespaces` is what `unshare --net --mount --pid --fork [--user --map-root-user]`
does, done by the freshly forked zygote itself. The zygote (then pid 1 of the new pid
namespace) builds a new root that
holds only the system's directories, the Python installation, the submission (read
only) and an empty scratch folder, and chroots into it: the project, the reference,
the hidden tests, the results and other submissions are not in it. Each worker it
forks then takes rlimits and, where the zygote is real root, a uid of its own.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG = 1
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
SUBMISSION, SCRATCH = "/submission", "/tmp"

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    result = _libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() or None
    )
    _check(result, f"mount {source} on {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def die_with_parent(parent: int | None) -> None:
    """SIGKILL this process when the process that forked it (`parent`) ends, even by SIGKILL.

    `parent` None: it lives outside our pid namespace, where getppid() cannot see it.
    """
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if parent is not None and os.getppid() != parent:  # it ended before prctl took effect
        os._exit(1)


def enter_namespaces(level: str) -> None:
    """Enter new network, mount and pid namespaces (and a user namespace at level 'userns').

    Returns in a child that is pid 1 of the new pid namespace; this process stays outside,
    waits for it and exits with its status, so that killing either ends both. Must be
    called single-threaded (a fork's child is): unshare(CLONE_NEWUSER) demands it.
    """
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | (CLONE_NEWUSER if level == "userns" else 0)
    _check(_libc.unshare(flags), "unshare")
    if level == "userns":  # be root inside, as --map-root-user does
        for name, line in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(line)
    # Our mounts must not reach the host's namespace (unshare(1) does the same by default).
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    child = os.fork()  # the first child in a new pid namespace is its pid 1
    if child == 0:
        die_with_parent(None)
        return
    os.closerange(0, os.sysconf("SC_OPEN_MAX"))  # holds no channel open for the grader
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)  # as a shell reports a signal


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
