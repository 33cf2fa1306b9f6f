"""What the sandbox's walls cost per worker start: `python bench/walls.py [--n 40]`.

Times, in this process: a fresh worker forked and answering one ping (median of N, through
a real Sandbox on the reference), and the parts the walls add: entering the namespaces, the
memory cgroup's set-up and removal (per submission), the seccomp filter's build (per
submission) and load (per worker), the environment's replacement. Prints a table in ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.core import memcg
from grader.core.limits import Limits  # noqa: E402
from grader.core.machine import isolation_level, namespaces  # noqa: E402
from grader.core.sandbox import Sandbox  # noqa: E402
from grader.worker import jail, syscalls  # noqa: E402
from seam import REPO_ROOT  # noqa: E402

PING = {"op": "ping"}


def median_ms(function, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def in_child_ms(function, n: int) -> float:
    """Median ms of `function` run in a forked child each time, timed there (what it changes
    must not stay in this process; the fork itself is not counted)."""
    times = []
    for _ in range(n):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            started = time.perf_counter()
            function()
            os.write(write, str((time.perf_counter() - started) * 1000).encode())
            os._exit(0)
        os.close(write)
        times.append(float(os.read(read, 64)))
        os.close(read)
        os.waitpid(pid, 0)
    return statistics.median(times)


def fresh_worker_ms(n: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(REPO_ROOT / "solutions", Path(folder) / "assignment")
        sandbox = Sandbox(Path(folder), Limits())
        sandbox.start()
        try:
            sandbox.fresh_worker()
            sandbox.request(PING, None)  # the zygote's first answer
            return median_ms(lambda: (sandbox.fresh_worker(), sandbox.request(PING, None)), n)
        finally:
            sandbox.close()


def unshare_ms(names: list[str], n: int) -> float:
    flags = sum(jail.NAMESPACES[name] for name in names)
    return in_child_ms(lambda: jail._check(jail._libc.unshare(flags), "unshare"), n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    n = parser.parse_args().n
    level = isolation_level()
    rows = [("fresh worker + ping, median", fresh_worker_ms(n))]
    if level == "root":
        base = ["net", "mount", "pid"]
        rows.append(("unshare net+mount+pid (per submission)", unshare_ms(base, n)))
        rows.append((f"unshare {'+'.join(namespaces(level))} (per submission)", unshare_ms(list(namespaces(level)), n)))

        def cgroup_round_trip():
            cgroup = memcg.create(2**30)
            cgroup.set_limit(2**31)
            cgroup.remove()

        if memcg.create(2**30) is not None:
            rows.append(("memory cgroup: create, limit, remove (per submission)", median_ms(cgroup_round_trip, n)))
    if syscalls.available():
        rows.append(("seccomp filter: build (per submission)", median_ms(syscalls.build, n)))
        rules = syscalls.build()
        rows.append(("seccomp filter: load (per worker)", in_child_ms(lambda: syscalls.install(rules), n)))
    rows.append(("environment: allow-list, blank the block (per submission)", in_child_ms(jail.replace_environment, n)))
    width = max(len(name) for name, _ in rows)
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:8.2f} ms")


if __name__ == "__main__":
    main()
