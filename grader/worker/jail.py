"""The sandbox's walls: new namespaces, a new root, rlimits and a uid of its own.

`enter_namespaces` is what `unshare --net --mount --pid --ipc --uts [--cgroup --time] --fork
[--user --map-root-user]` does, done by the freshly forked zygote itself: every namespace
the kernel offers is the sandbox's own, so no SysV segment, message queue, semaphore or
host name a submission makes is seen by another, and all of them end with the zygote.
The zygote (then pid 1 of the new pid namespace) builds a new root that holds only the
system's directories, the Python installation (with any copy of the project inside it
masked), a minimal /dev, the submission (read only) and an empty scratch folder, and
chroots into it: the project, the reference, the hidden tests, the results and other
submissions are not in it. Each worker it forks then takes rlimits and, where the zygote
is real root, a uid of its own.
"""

from __future__ import annotations

import ctypes
import glob
import os
import resource
import signal
import sys
from dataclasses import dataclass

from grader.worker import forking
from grader.worker.settings import WorkerLimits

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
CLONE_NEWUSER = 0x10000000
NAMESPACES = {  # what unshare(1) calls them -> the clone flag
    "net": 0x40000000, "mount": 0x00020000, "pid": 0x20000000, "ipc": 0x08000000,
    "uts": 0x04000000, "cgroup": 0x02000000, "time": 0x00000080,
}
PR_SET_PDEATHSIG = 1
M_ARENA_MAX = -8  # mallopt(3)
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


def enter_namespaces(level: str, namespaces: list[str]) -> None:
    """Enter new `namespaces` (names of NAMESPACES; and a user namespace at level 'userns').

    Returns in a child that is pid 1 of the new pid namespace; this process stays outside,
    waits for it and exits with its status, so that killing either ends both. Must be
    called single-threaded (a fork's child is): unshare(CLONE_NEWUSER) demands it.
    """
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWUSER if level == "userns" else 0
    for name in namespaces:
        flags |= NAMESPACES[name]
    _check(_libc.unshare(flags), "unshare")
    if level == "userns":  # be root inside, as --map-root-user does
        for name, line in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(line)
    # Our mounts must not reach the host's namespace (unshare(1) does the same by default).
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    if "uts" in namespaces:
        _check(_libc.sethostname(b"sandbox", 7), "sethostname")
    child = forking.fork()  # its pid 1: new pid and time namespaces hold only children made after unshare
    if child == 0:
        die_with_parent(None)
        return
    os.closerange(0, os.sysconf("SC_OPEN_MAX"))  # holds no channel open for the grader
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)  # as a shell reports a signal


# --- the worker's root, as a table of rules ---------------------------------------------------
#
# Like isolate's box: each rule says what a path of the new root is. The table is data, built
# without touching the machine (a unit test reads it without root); `enter_root` applies it in
# order, then chroots. Order matters: the scratch tmpfs goes over /tmp BEFORE the Python folders,
# so a venv under /tmp is bound on top of it, not hidden by it; masks go over the Python folders
# after them; /dev's tmpfs comes before the nodes bound into it.

TMPFS, DEV_TMPFS, MASK, READ_ONLY, DEVICE, PROC, LINK = "tmpfs", "tmpfs+dev", "mask", "read-only", "device", "proc", "link"
_TMPFS_FLAGS = {TMPFS: MS_NOSUID | MS_NODEV, DEV_TMPFS: MS_NOSUID, MASK: MS_RDONLY | MS_NOSUID | MS_NODEV}
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"))


@dataclass(frozen=True)
class Rule:
    """One path of the worker's root: `inside` is `kind`, from `outside` (a bind's source, a link's
    target) with `options` (a tmpfs's size and mode). An `if_there` bind whose source the machine
    lacks (/lib32, a Python folder) is left out; any other rule that fails stops the worker (the
    grader's error, never a grade)."""

    inside: str
    kind: str
    outside: str = ""
    options: str = ""
    if_there: bool = False


def root_table(
    submission: str, python_dirs: list[str], masked: list[str], scratch_mb: int, uid: int | None, devices: list[str]
) -> list[Rule]:
    """The worker's root: the system read only, an empty scratch, Python read only with the
    project's copies masked (`masked`: folders inside `python_dirs` that must look empty), a
    minimal /dev (`devices`: from `device_nodes`), /proc, and the submission read only."""
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    return [
        Rule("/", TMPFS, options="size=16m,mode=0755"),
        *(Rule(path, READ_ONLY, path, if_there=True) for path in SYSTEM_DIRS),
        Rule(SCRATCH, TMPFS, options=f"size={scratch_mb}m,mode=0700{owner}"),
        *(Rule(path, READ_ONLY, path, if_there=True) for path in python_dirs),
        *(Rule(path, MASK, options="size=4k,mode=0555") for path in masked),
        Rule("/dev", DEV_TMPFS, options="size=64k,mode=0755"),
        *(Rule(f"/dev/{name}", DEVICE, f"/dev/{name}") for name in devices),
        *(Rule(f"/dev/{name}", LINK, target) for name, target in DEV_LINKS),
        Rule("/dev/shm", TMPFS, options="size=64m,mode=1777"),
        Rule("/proc", PROC),
        Rule(SUBMISSION, READ_ONLY, submission),
    ]


def enter_root(new_root: str, table: list[Rule]) -> None:
    """Apply `table` under `new_root` (a folder), then make it this process's root."""
    for rule in table:
        _apply(new_root, rule)
    os.chroot(new_root)
    os.chdir("/")


def _apply(new_root: str, rule: Rule) -> None:
    target = new_root + rule.inside.rstrip("/")
    if rule.if_there and not os.path.isdir(rule.outside):
        return
    if rule.kind == MASK and not os.path.isdir(target):  # not under a folder the root holds: nothing to hide
        return
    if rule.kind == DEVICE:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "w").close()  # a bind mount needs a file to cover
        _mount(rule.outside, target, None, MS_BIND)
    elif rule.kind == LINK:
        os.symlink(rule.outside, target)
    elif rule.kind == READ_ONLY:
        os.makedirs(target, exist_ok=True)
        _mount(rule.outside, target, None, MS_BIND | MS_REC)
        _mount(rule.outside, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    else:
        os.makedirs(target, exist_ok=True)
        source = "proc" if rule.kind == PROC else "tmpfs"
        flags = MS_NOSUID | MS_NODEV if rule.kind == PROC else _TMPFS_FLAGS[rule.kind]
        _mount(source, target, source, flags, rule.options)


BASIC_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
GPU_DEVICES = ("nvidia*", "nvidia-caps/*", "dri/*")  # nvidiactl, nvidia0.., nvidia-uvm(-tools), nvidia-modeset


def device_nodes(dev_root: str = "/dev") -> list[str]:
    """The entries of `dev_root` a worker gets (relative paths): the basic character devices
    and, where present, the GPU's; never the disks, the host's terminals or /dev/shm."""
    chosen = [name for name in BASIC_DEVICES if os.path.exists(os.path.join(dev_root, name))]
    for pattern in GPU_DEVICES:
        for path in sorted(glob.glob(os.path.join(dev_root, pattern))):
            if not os.path.islink(path) and not os.path.isdir(path):
                chosen.append(os.path.relpath(path, dev_root))
    return chosen


DRIVER_LIBRARIES = ("libcuda.so", "libnvidia-ml.so", "libnvidia-ptxjitcompiler.so")


def driver_library_dirs(ldconfig_output: str) -> list[str]:
    """Folders of the GPU driver's libraries (from `ldconfig -p`) that the system folders do
    not already bring into the new root (e.g. /run/nvidia/driver/lib64, /opt/nvidia/lib)."""
    dirs = set()
    for line in ldconfig_output.splitlines():
        name, _, path = line.strip().partition(" => ")
        if name.startswith(DRIVER_LIBRARIES) and path.startswith("/"):
            folder = os.path.dirname(path)
            if not any(folder == d or folder.startswith(d + "/") for d in SYSTEM_DIRS):
                dirs.add(folder)
    return sorted(dirs)


def limit_process(limits: WorkerLimits, uid: int | None) -> None:
    """rlimits for one worker, then (as real root) a uid no other process has."""
    rlimits = {
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_FSIZE: limits.file_bytes,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_CORE: 0,
    }
    if limits.data_bytes:
        rlimits[resource.RLIMIT_DATA] = _current_bytes("VmData") + limits.data_bytes
    if limits.address_space_bytes:  # no memory cgroup: shared mappings must count too
        rlimits[resource.RLIMIT_AS] = _current_bytes("VmSize") + limits.address_space_bytes
        # glibc reserves 64 MiB of address space per thread's arena: 16 torch threads would
        # spend 1.2 GiB of the limit on reservations; one arena keeps it to their stacks.
        _libc.mallopt(M_ARENA_MAX, 1)
    if limits.memory_cgroup:  # the cgroup's OOM killer takes this worker, never the zygote
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
    if uid is not None:
        # RLIMIT_NPROC counts the processes of a uid; root is exempt, so it needs the uid drop.
        rlimits[resource.RLIMIT_NPROC] = limits.processes
    for kind, value in rlimits.items():
        resource.setrlimit(kind, (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def protect_from_oom_killer() -> None:
    """The zygote must outlive any worker the memory cgroup's OOM killer ends (root only)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("-1000")
    except OSError:
        pass


def _current_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


# What Python, torch, its thread pools and CUDA read from the environment; nothing else of
# the grader's (tokens, credentials, paths) reaches the sandbox. TMPDIR and HOME are set
# to scratch by each worker.
ENV_NAMES = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "PYTHONIOENCODING", "PYTHONHASHSEED", "PYTHONUTF8",
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_MODULE_LOADING", "NVIDIA_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_NVML_BASED_CUDA_CHECK",
})
ENV_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "GOMP_")


def worker_environment(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}


def replace_environment() -> None:
    """Keep only `worker_environment` of ours, and blank the environment block the kernel
    shows as /proc/self/environ (the exec-time copy, which unsetenv leaves in place)."""
    kept = worker_environment(dict(os.environ))
    os.environ.clear()  # unsetenv: nothing in environ points into the block any more
    start, end = _stat_fields(50, 51)  # env_start, env_end
    if 0 < start < end:
        ctypes.memset(start, 0, end - start)
    os.environ.update(kept)


SANDBOX_TITLE = b"sandbox"


def replace_command_line(title: bytes = SANDBOX_TITLE) -> None:
    """Show `title` as this process's command line (/proc/1/cmdline in the jail, and every
    worker's, forked from it: SANDBOX_TITLE), never the grader's: its arguments name staff folders.
    A title longer than the arguments' room is cut to it (a grading process's, grader/core/service_process.py)."""
    start, end = _stat_fields(48, 49)  # arg_start, arg_end
    title = title[: max(end - start - 2, 0)]
    if 0 < start and title:
        ctypes.memset(start, 0, end - start)
        ctypes.memmove(start, title, len(title))
        # A last byte that is not NUL: the kernel then reads up to the first NUL (setproctitle's way).
        ctypes.memset(end - 1, ord(" "), 1)
    title = title.decode(errors="replace")
    sys.argv[:] = [title]
    if hasattr(sys, "orig_argv"):
        sys.orig_argv[:] = [title]


def _stat_fields(*numbers: int) -> list[int]:
    """Fields of /proc/self/stat by their numbers in proc(5) (1-based; the name may hold spaces)."""
    with open("/proc/self/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()  # fields[0] is field 3
    return [int(fields[number - 3]) for number in numbers]
