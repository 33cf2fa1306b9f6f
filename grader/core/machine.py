"""What this machine allows the sandbox: the isolation level, its layers, the paths a worker sees.

Probed once per process (a namespace that cannot be unshared here is never pretended to).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from grader.core import memcg
from grader.worker import jail, syscalls
import seam


PROJECT_ROOT = seam.REPO_ROOT
WORK_BASE = Path(os.environ.get("GRADER_WORK_DIR", "/var/tmp/grader-work"))
SANDBOX_PREFIX = "sandbox-"
UIDS = WORK_BASE / "uids"  # one lock file per worker uid in use (grader/core/leases.py)


class SandboxUnavailable(RuntimeError):
    """The machine allows too little isolation, and weak isolation was not allowed."""


LEVELS = ("root", "userns", "none")
REQUIRED_NAMESPACES = ("net", "mount", "pid", "ipc", "uts")
OPTIONAL_NAMESPACES = ("cgroup", "time")  # newer kernels (time: 5.6); used where present


def isolation_level() -> str:
    """'root' (namespaces, chroot, own uid), 'userns' (namespaces, chroot), or 'none'.

    GRADER_ISOLATION=userns|none asks for less than the machine allows (to test those paths).
    """
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "none"
    cap = os.environ.get("GRADER_ISOLATION", "root")
    if cap not in LEVELS:
        raise SandboxUnavailable(f"GRADER_ISOLATION={cap!r}: expected one of {LEVELS}")
    for level in ("root", "userns"):
        if LEVELS.index(level) < LEVELS.index(cap) or (level == "root" and os.geteuid() != 0):
            continue
        if _unshare_works(level, REQUIRED_NAMESPACES):
            return level
    return "none"


@functools.cache
def namespaces(level: str) -> tuple[str, ...]:
    """The namespaces a zygote at `level` enters: all that the kernel offers."""
    if level == "none":
        return ()
    return REQUIRED_NAMESPACES + tuple(n for n in OPTIONAL_NAMESPACES if _unshare_works(level, (*REQUIRED_NAMESPACES, n)))


def _unshare_works(level: str, names: tuple[str, ...]) -> bool:
    extra = ["--user", "--map-root-user"] if level == "userns" else []
    probe = ["unshare", *extra, *(f"--{name}" for name in names), "--fork", "true"]
    return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0


@functools.cache
def memory_layer(level: str) -> str:
    """How a worker's memory is limited: 'memory-cgroup' (all of it, root only), else
    'rlimit-as' (the address space), or on a GPU machine 'rlimit-data' (CUDA reserves more
    address space than any limit would allow; shared mappings are then not counted)."""
    if level == "root":
        cgroup = memcg.create(2**30)
        if cgroup is not None:
            cgroup.remove()
            return "memory-cgroup"
    if any(name.startswith("nvidia") for name in jail.device_nodes("/dev")):
        return "rlimit-data"
    return "rlimit-as"


def layers_for(level: str) -> list[str]:
    memory = memory_layer(level)
    filtered = ["seccomp"] if syscalls.available() else []
    common = ["rlimits(cpu,data,files,open-files)", memory, *filtered, "clean-env", "wall-clock-kill", "output-cap", "audit-hook", "plain-data-protocol",
              "reply-budget", "typed-flags", "work-folder-leases", "sandbox-title"]
    walls = [f"{name}ns" for name in namespaces(level) if name != "mount"]
    if level == "root":
        return [*walls, "mountns+chroot", "minimal-dev", "own-uid", "rlimit-nproc", *common]
    if level == "userns":
        return ["userns", *walls, "mountns+chroot", "minimal-dev", *common]
    return ["process-group-kill", *common]


def python_dirs() -> list[str]:
    """Folders of the Python installation a worker must read (bound read-only into its root),
    wherever it is installed: a venv under /tmp, a .venv inside the checkout, conda."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    candidates.update(p for p in sys.path if "-packages" in p)
    dirs = {os.path.realpath(path) for path in candidates if os.path.isdir(path)}
    dirs.update(jail.driver_library_dirs(_ldconfig()))  # a GPU driver installed outside /usr
    return sorted(d for d in dirs if not any(d != o and _contains(o, d) for o in dirs))


@functools.cache
def _ldconfig() -> str:
    try:
        return subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


OUR_PACKAGES = ("solutions", "tests", "seam", "grader", "assignment")


def masked_paths(dirs: list[str]) -> list[str]:
    """What must look empty inside the Python folders: the project (a Python folder may hold
    the checkout), the sandboxes' work folder, and any copy of our packages in a
    site-packages (a non-editable `pip install .` once put them there)."""
    secrets = [os.path.realpath(PROJECT_ROOT), os.path.realpath(WORK_BASE)]
    site_dirs = {os.path.realpath(p) for p in (*site.getsitepackages(), *sys.path) if "-packages" in p and os.path.isdir(p)}
    copies = [os.path.join(d, name) for d in site_dirs for name in OUR_PACKAGES if os.path.isdir(os.path.join(d, name))]
    inside = [path for path in secrets + copies if any(_contains(d, path) for d in dirs)]
    return sorted(set(inside))


def check_installed_from_checkout() -> None:
    """The grader runs from a checkout (or `pip install -e .`), never from a copy in site-packages:
    a copy would put the reference and the hidden suites where the jail binds Python."""
    root = os.path.realpath(PROJECT_ROOT)
    if any(part.endswith("-packages") for part in Path(root).parts) or not (Path(root) / "pyproject.toml").is_file():
        raise SandboxUnavailable(
            f"the grader is installed as a copy in {root}: it must run from its checkout "
            "(`pip install -e .` there), so that no copy of solutions/ or tests/ sits in site-packages"
        )


def driver_modules() -> list[str]:
    """Our drivers (tests/drivers/): the worker imports them before its walls go up. Only
    these: what computes an expected value (tests/oracles/, the reference) never enters it."""
    folder = PROJECT_ROOT / "tests" / "drivers"
    return [f"tests.drivers.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")
