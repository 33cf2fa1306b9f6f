"""A class through the sandbox against the same class in-process, unsandboxed.

    python bench/class_batch.py [--n 20] [--jobs 2] [--repeats 3] [--only MODULES] [--before CHECKOUT]

N copies of the reference, graded (a) as staff grade a class: `python -m grader grade CLASS
--jobs J` (the canary included), every student checked at full marks, and (b) as N plain
`pytest tests/public tests/hidden --impl STUDENT` runs, J at a time (the in-process run that
bench/isolation.py compares one submission with). The two are interleaved, `--repeats` times,
so drift in the machine's load hits both alike. --before CHECKOUT adds a third row, interleaved
with the others: the same `python -m grader grade` run from another checkout (e.g. `git archive
main` unpacked under /tmp: the per-process grader, one new interpreter per submission). Each run reports its wall time and the CPU
time (user + sys) of its whole process tree, which other jobs on a shared machine disturb far
less than wall time, and the load average before it.

Not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def make_class(root: Path, n: int) -> Path:
    for i in range(n):
        shutil.copytree(REPO_ROOT / "solutions", root / f"student_{i:03d}" / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the process tree, load average before) of `run()`."""
    load, cpu, started = os.getloadavg()[0], children_cpu(), time.perf_counter()
    run()
    return time.perf_counter() - started, children_cpu() - cpu, load


def grade_class(klass: Path, out: Path, jobs: int, only: str, checkout: Path = REPO_ROOT) -> None:
    command = [sys.executable, "-m", "grader", "grade", str(klass), "--out", str(out), "--jobs", str(jobs), *(["--only", only] if only else [])]
    finished = subprocess.run(command, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)}, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"grading failed ({finished.returncode}):\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}")
    for results in sorted(out.glob("*/results.json")):
        data = json.loads(results.read_text())
        if data["score"] != data["max_score"]:  # every student is the reference: anything less is a grader fault
            raise SystemExit(f"{results.parent.name} scored {data['score']}/{data['max_score']}")


def pytest_runs(klass: Path, jobs: int, only: str) -> None:
    """One plain in-process pytest run per student, `jobs` at a time."""
    marker = ["-m", " or ".join(only.split(","))] if only else []
    waiting = sorted(klass.iterdir())
    running: list[subprocess.Popen] = []
    while waiting or running:
        while waiting and len(running) < jobs:
            command = [
                sys.executable, "-m", "pytest", "tests/public", "tests/hidden", f"--impl={waiting.pop(0)}", "-q",
                "-p", "no:cacheprovider", "--hypothesis-profile=grading", "-o", "timeout=0", *marker,
            ]
            running.append(subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        finished = running.pop(0)
        if finished.wait() != 0:
            raise SystemExit(f"an in-process pytest run failed: {finished.args}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="students, each a copy of the reference (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="at a time, on both sides (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated problems (default: all)")
    parser.add_argument("--before", type=Path, help="another checkout whose `grader grade` is timed too (a third row)")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {"sandboxed batch": [], "in-process pytest runs": []}
    if args.before:
        rows["sandboxed batch, before"] = []
    with tempfile.TemporaryDirectory(prefix="class-batch-") as scratch:
        klass = make_class(Path(scratch) / "class", args.n)
        for run in range(args.repeats):
            out = Path(scratch) / f"out-{run}"
            rows["sandboxed batch"].append(timed(lambda: grade_class(klass, out, args.jobs, args.only)))
            rows["in-process pytest runs"].append(timed(lambda: pytest_runs(klass, args.jobs, args.only)))
            if args.before:
                before = Path(scratch) / f"before-{run}"
                rows["sandboxed batch, before"].append(timed(lambda: grade_class(klass, before, args.jobs, args.only, args.before.resolve())))
            for label, runs in rows.items():
                wall, cpu, load = runs[-1]
                print(f"run {run + 1}: {label:>22}: {wall:6.1f} s wall, {cpu:6.1f} s CPU (load before {load:.1f})", flush=True)
    print(f"\n{args.n} copies of the reference, {args.jobs} at a time, scope {args.only or 'all'}; medians of {args.repeats}:")
    for label, runs in rows.items():
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        print(f"{label:>22}: {statistics.median(walls):6.1f} s wall ({', '.join(f'{w:.1f}' for w in walls)}), "
              f"{statistics.median(cpus):6.1f} s CPU ({', '.join(f'{c:.1f}' for c in cpus)})")
    plain, plain_cpu = (statistics.median(r[i] for r in rows["in-process pytest runs"]) for i in (0, 1))
    for label in [k for k in rows if k.startswith("sandboxed")]:
        boxed, boxed_cpu = (statistics.median(r[i] for r in rows[label]) for i in (0, 1))
        print(f"ratio {label} / in-process: wall {boxed / plain:.3f}, CPU {boxed_cpu / plain_cpu:.3f}")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
