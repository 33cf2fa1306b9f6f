"""Submissions graded per minute with 1 and 2 local workers (and Ray, where installed).

    python bench/throughput.py [--n 8] [--only tensors] [--workers 1,2] [--repeats 1] [--ray] [--address ADDR] [--allow-weak-sandbox]

Grades N copies of the reference with each setting, into a fresh gradebook each time, through
the same driver as `python -m grader grade` (discover -> plan -> executor -> gradebook), and
prints submissions/minute and the speed-up over the first setting. A local executor's grading
service is started before the clock (its start, ~2 s of importing torch and warming it up once
per batch, is printed beside): the rate is a class's steady state, which a batch of a few
submissions would otherwise understate for more workers than one. With --repeats R the
settings are interleaved R times and the medians follow, each run with its CPU time (user + sys
of this process and every process it waited for: what a loaded machine disturbs far less than
wall time) and the load average before it. Not a test: the numbers depend on the machine and
on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402

from grader.staff.grading import batch, executors
from grader.staff.grading.executors import Grading  # noqa: E402
from grader.staff.grading.gradebook import Gradebook  # noqa: E402
from grader.core.limits import Limits  # noqa: E402
from seam import REPO_ROOT  # noqa: E402


def make_class(root: Path, n: int) -> Path:
    for i in range(n):
        shutil.copytree(REPO_ROOT / "solutions", root / f"student_{i:03d}" / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def cpu_seconds() -> float:
    """User + sys of this process and of every child it has waited for."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def measure(klass: Path, executor, grading: Grading, scratch: Path) -> tuple[float, float]:
    """Seconds to start the executor's grading service (0 for one without), then to grade the
    whole class from an empty gradebook (the executor closed after it)."""
    book = Gradebook(scratch / f"gradebook-{executor.name}-{time.monotonic_ns()}.sqlite")
    students = batch.discover([klass])
    plan = batch.plan(students, book, scratch / "out", ",".join(grading.modules or ()), set(), True, None)
    started = time.monotonic()
    service = getattr(executor, "service", None)
    if service is not None:
        service.start()
    start = time.monotonic() - started
    started = time.monotonic()
    try:
        batch.run(plan.jobs, executor, grading, book, Console(quiet=True))
    finally:
        getattr(executor, "close", lambda: None)()
    seconds = time.monotonic() - started
    rows = {s: book.submission(s) for s in students}
    book.close()
    failed = [s for s, row in rows.items() if row["status"] != "graded" or not _code_full_marks(json.loads(row["results"]))]
    if failed:  # every submission is the reference: any code test short of full marks is a grader fault
        raise SystemExit(f"grading failed, or the reference lost points, for {failed}")
    return start, seconds


def _code_full_marks(data: dict) -> bool:
    """Every test of the code at full marks (the written part waits for answers and staff's marks)."""
    return all(t["score"] == t["max_score"] for t in data["tests"] if "written" not in t.get("tags", ()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8, help="submissions per setting (default: %(default)s)")
    parser.add_argument("--only", default="tensors", help="problems to grade, comma-separated; '' for all (default: %(default)s)")
    parser.add_argument("--workers", default="1,2", help="local worker counts to try (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs of every setting; medians reported (default: %(default)s)")
    parser.add_argument("--ray", action="store_true", help="also the Ray executor (a local Ray unless --address)")
    parser.add_argument("--address", help="Ray cluster address")
    parser.add_argument("--allow-weak-sandbox", action="store_true", help="where the machine allows no namespaces")
    args = parser.parse_args()
    grading = Grading(Limits(), allow_weak=args.allow_weak_sandbox, modules=tuple(m for m in args.only.split(",") if m) or None)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.n} submissions, scope: {args.only or 'all'}")
    runs: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="throughput-") as scratch:
        klass = make_class(Path(scratch) / "class", args.n)
        settings = [(f"local x{w}", lambda w=int(w): executors.LocalExecutor(w)) for w in args.workers.split(",")]
        if args.ray or args.address:
            settings.append(("ray", lambda: executors.RayExecutor(args.address)))
        for repeat in range(args.repeats):  # interleaved, so drift in the machine's load hits every setting alike
            for label, make in settings:
                load, cpu = os.getloadavg()[0], cpu_seconds()
                start, seconds = measure(klass, make(), grading, Path(scratch))
                runs.setdefault(label, []).append((seconds, cpu_seconds() - cpu, start))
                first = statistics.median(row[0] for row in runs[settings[0][0]])
                print(f"run {repeat + 1}: {_line(label, seconds, first, args.n)}, +{start:.1f} s to start, "
                      f"{runs[label][-1][1]:.1f} s CPU (load before {load:.1f})", flush=True)
    if args.repeats > 1:
        print(f"\nmedians of {args.repeats}:")
        first = statistics.median(row[0] for row in runs[settings[0][0]])
        for label, rows in runs.items():
            seconds, cpu, start = (statistics.median(row[i] for row in rows) for i in range(3))
            print(f"{_line(label, seconds, first, args.n)}, +{start:.1f} s to start, {cpu:.1f} s CPU  "
                  f"runs: {', '.join(f'{row[0]:.1f}' for row in rows)} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


def _line(label: str, seconds: float, baseline: float, n: int) -> str:
    return f"{label:>16}: {n / seconds * 60:6.1f} submissions/minute ({seconds:6.1f} s), x{baseline / seconds:.2f} vs the first"


if __name__ == "__main__":
    sys.exit(main())
