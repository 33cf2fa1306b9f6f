"""What the grader tells a zygote and its workers, as frozen, typed values.

The grader builds these (grader/core/sandbox.py) and they reach the zygote by `fork`, as Python
objects, never as bytes: nothing here is parsed. Typed and frozen so that a misspelt or
missing setting fails where it is built, not as a KeyError inside a half-walled worker, and so
that neither side can change what the other reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerLimits:
    """The rlimits one worker takes (jail.limit_process)."""

    cpu_seconds: int
    data_bytes: int  # on top of what the worker holds when it starts
    processes: int  # RLIMIT_NPROC, where the worker has a uid of its own
    file_bytes: int
    open_files: int
    address_space_bytes: int | None = None  # no memory cgroup: RLIMIT_AS, so that shared mappings count too
    memory_cgroup: bool = False  # the cgroup's OOM killer takes this worker, never the zygote


@dataclass(frozen=True)
class ZygoteSettings:
    """One submission's zygote: its walls (jail: namespaces and a new root), the folders it
    sees, what each of its workers is limited to, and what it imports before the walls go up."""

    jail: bool  # False: no namespaces on this machine (--allow-weak-sandbox)
    namespaces: tuple[str, ...]
    new_root: str
    submission: str  # the staged copy of the submission
    scratch: str  # the scratch folder, where there is no jail
    python_dirs: tuple[str, ...]
    masked: tuple[str, ...]  # folders inside python_dirs that must look empty
    scratch_mb: int
    uid: int | None  # the workers' own uid (real root only)
    limits: WorkerLimits
    seccomp: bool
    driver_modules: tuple[str, ...]
    problems: tuple[str, ...] | None  # what the warm-up prepares for (None: all)
