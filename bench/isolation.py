"""How much the sandbox costs: grade the reference through it, and run the same suites
in-process, unsandboxed, on the same submission; print both times and their ratio.

    python bench/isolation.py [--repeats N] [--only MODULE,...] [--profile]

--profile: each run also records the grader's own phase timings (GRADER_PROFILE, see
grader/core/phases.py), and a table of the medians per phase follows (bench/phases.py).

Not a test: timings depend on the machine. Both runs are whole processes started the
same way (interpreter start, torch import, collection included), so the ratio is what
a staff member sees.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "bench"))

import phases  # noqa: E402  (bench/phases.py)


def timed(command: list[str], profile: Path | None = None, sandboxed: bool = False) -> tuple[float, tuple]:
    """Seconds the command took, and its phases and calls when `profile` is a file to record them in."""
    env = {**os.environ, "GRADER_PROFILE": str(profile)} if profile else None
    started, wall = time.perf_counter(), time.time()
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout[-2000:]}{finished.stderr[-2000:]}")
    return seconds, phases.profile(profile, wall, wall + seconds, sandboxed) if profile else ({}, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated problems (default: all)")
    parser.add_argument("--profile", action="store_true", help="also the grader's phase timings, as a table")
    parser.add_argument("--allow-weak-sandbox", action="store_true", help="where the machine allows no namespaces")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        submission = Path(scratch) / "reference"
        shutil.copytree(REPO_ROOT / "solutions", submission / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
        marker = ["-m", " or ".join(args.only.split(","))] if args.only else []
        in_process = [
            sys.executable, "-m", "pytest", "tests/public", "tests/hidden", f"--impl={submission}", "-q",
            "-p", "no:cacheprovider", "--hypothesis-profile=grading", "-o", "timeout=0", *marker,
            *(["-p", "grader.core.phases"] if args.profile else []),
        ]
        sandboxed = [
            sys.executable, "-m", "grader.core.grade", str(submission), str(Path(scratch) / "out" / "results.json"),
            "{}", "1" if args.allow_weak_sandbox else "0", args.only,
        ]
        plain, boxed, plain_phases, boxed_phases = [], [], [], []
        for run in range(args.repeats):  # interleaved, so drift in machine load hits both alike
            record = Path(scratch) / f"profile-{run}" if args.profile else None
            seconds, rows = timed(in_process, record and record.with_suffix(".in-process"))
            plain.append(seconds)
            plain_phases.append(rows)
            seconds, rows = timed(sandboxed, record and record.with_suffix(".sandboxed"), sandboxed=True)
            boxed.append(seconds)
            boxed_phases.append(rows)
        score = json.loads((Path(scratch) / "out" / "results.json").read_text())["score"]
    median_plain, median_boxed = statistics.median(plain), statistics.median(boxed)
    print(f"in-process (pytest --impl, unsandboxed): {median_plain:6.1f} s  runs: {', '.join(f'{t:.1f}' for t in plain)}")
    print(f"sandboxed  (python -m grader.core.grade):     {median_boxed:6.1f} s  runs: {', '.join(f'{t:.1f}' for t in boxed)}")
    print(f"ratio sandboxed / in-process:            {median_boxed / median_plain:6.3f}   (reference scored {score:g})")
    if args.profile:
        print(f"\nPhases, median of {args.repeats} (machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end):\n")
        print(phases.table([rows for rows, _ in boxed_phases], [rows for rows, _ in plain_phases]))
        print("\nCalls that cost the sandbox most (the last run of each):\n")
        print(phases.costliest_calls(boxed_phases[-1][1], plain_phases[-1][1]))


if __name__ == "__main__":
    main()
