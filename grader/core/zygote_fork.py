"""Forking the sandbox's zygote from this process, and the rule that guards every such fork.

The zygote (grader/worker/zygote.py) is forked once torch is imported and before any secret is
loaded: whatever this process holds, every worker would hold too. `refuse_secrets` is that rule
(the grading service, grader/core/service_process.py, checks it before each grading process as
well); `fork_zygote` forks, and in the child sets up the zygote's descriptors, environment, memory
cgroup and namespaces before it hands over to zygote.run. grader/core/sandbox.py calls it.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
import warnings

from grader.core import phases
from grader.worker import forking
from grader.worker.settings import ZygoteSettings

# torch is imported by fork_zygote (zygote.preload), called from Sandbox.start just before it
# forks the zygote: the zygote and its workers inherit it instead of importing it again.

# What must not be in memory when the zygote is forked: it would be in every worker's too.
SECRET_MODULES = ("solutions", "tests.oracles", "tests.hidden", "tests.public", "pytest", "_pytest", "hypothesis", "grader.core.plugin")


def refuse_secrets(what: str) -> None:
    """Refuse (RuntimeError) to fork from this process once it holds any of SECRET_MODULES: the
    zygote here, and the grading service (grader/core/service_process.py) before each grading process."""
    loaded = [m for m in sys.modules if any(m == s or m.startswith(s + ".") for s in SECRET_MODULES)]
    if loaded:
        raise RuntimeError(f"{what} must start before the grader loads {loaded[:3]}: a fork would copy them")


def fork_zygote(settings: ZygoteSettings, level: str, control_fd: int, output_fd: int, cgroup, memory_bytes: int) -> int:
    """Fork the zygote from this process, torch already imported; its pid (a session leader).

    `cgroup`: the memory cgroup the zygote joins (None: none); its limit is `memory_bytes`
    plus what this process holds now, the most its copy-on-write pages can come to.
    """
    from grader.worker import jail, zygote

    phases.mark("preload start")
    drivers = zygote.preload(settings.driver_modules, settings.problems)  # once, for both sides
    phases.mark("preloaded")
    refuse_secrets("the sandbox")
    import torch

    if torch.cuda.is_initialized():  # a forked child cannot use a CUDA context: the worker makes its own
        raise RuntimeError("CUDA was initialised before the sandbox forked its zygote")
    if cgroup is not None:
        cgroup.set_limit(memory_bytes + _resident_bytes())
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    with warnings.catch_warnings():
        # torch's import leaves a native thread; the child needs none of it (workers are
        # forked the same way), so Python 3.12's warning about fork in threads is moot here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = forking.fork()
    if pid:
        phases.mark("zygote forked")
        return pid
    code = 1
    try:
        if os.environ.get("GRADER_TEST_BREAK_ZYGOTE"):  # the kit's tests: a sandbox that dies once started
            os._exit(70)
        os.setsid()
        jail.die_with_parent(parent)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.dup2(control_fd, 3)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))  # none of the grader's files stay open
        jail.replace_environment()
        jail.replace_command_line()
        if cgroup is not None:
            cgroup.join()  # before the cgroup namespace: it becomes the zygote's root cgroup
            jail.protect_from_oom_killer()
        if settings.jail:
            jail.enter_namespaces(level, settings.namespaces)  # returns in pid 1 of the new pid namespace
        zygote.run(settings, socket.socket(fileno=3), drivers)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
