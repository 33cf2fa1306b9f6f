"""A seccomp-bpf system-call filter: what a worker's kernel refuses, whatever Python does.

The audit hook (audit.py) lives in the worker, where student code can find it and switch it
off; this filter lives in the kernel. It is built in the zygote (libseccomp, through
pyseccomp's ctypes binding) and loaded by each worker once its other walls are up (rlimits,
uid), just before student code runs; it cannot be removed, and every process the worker
could start would inherit it.

A forbidden call kills the whole worker with SIGSYS (SECCOMP_RET_KILL_PROCESS). The zygote
reports "killed by signal 31 (SIGSYS)" and the trusted side records a "syscall" flag: the
attempt is seen from outside the worker. Everything else is allowed: the point is to close
the doors a submission has no business opening, not to list the ones torch needs.
"""

from __future__ import annotations

import errno
import socket

try:  # libseccomp's own Python bindings where installed, else the same API over ctypes
    import seccomp
except ImportError:
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError):  # no pyseccomp, or no libseccomp.so on this machine
        seccomp = None

CLONE_THREAD = 0x00010000

# Calls a worker never needs: another process's memory, the kernel's keyrings, namespaces
# and mounts (the jail's walls), eBPF and perf (kernel attack surface and side channels),
# userfaultfd (stretches kernel races), io_uring (performs I/O the filter cannot inspect),
# modules, reboot, clocks, swap, and file handles that reach outside the chroot.
KILLED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
    "syslog", "iopl", "ioperm", "fanotify_init", "vhangup",
    # New programs and processes: a worker is one process with threads (torch's pools).
    "execve", "execveat", "fork", "vfork",
)


def available() -> bool:
    return seccomp is not None


def build() -> object:
    """The filter, compiled once in the zygote; `install` loads it in each worker."""
    kill = seccomp.KILL_PROCESS
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in KILLED:
        rules.add_rule(kill, name)
    # A thread is clone(CLONE_THREAD|...); anything else is a new process.
    rules.add_rule(kill, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    # clone3 passes its flags in memory the filter cannot read: refuse it, so that glibc
    # falls back to clone (what container runtimes do).
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # The worker's channel to the grader is open already: no socket but a local one (the
    # network namespace has no route out anyway; this holds where namespaces are missing).
    for call in ("socket", "socketpair"):
        rules.add_rule(kill, call, seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    return rules


def install(rules: object) -> None:
    """Load the filter into this process (with no_new_privs, as libseccomp sets by default)."""
    rules.load()
