"""How much the sandbox costs: grade the reference through it, and run the same suites
in-process, unsandboxed, on the same submission; print both times and their ratio.

    python bench/isolation.py [--repeats N] [--only MODULE,...]

Not a test: timings depend on the machine. Both runs are whole processes started the
same way (interpreter start, torch import, collection included), so the ratio is what
a staff member sees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout[-2000:]}{finished.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated problems (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        submission = Path(scratch) / "reference"
        shutil.copytree(REPO_ROOT / "solutions", submission / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
        marker = ["-m", " or ".join(args.only.split(","))] if args.only else []
        in_process = [
            sys.executable, "-m", "pytest", "tests/public", "tests/hidden", f"--impl={submission}", "-q",
            "-p", "no:cacheprovider", "--hypothesis-profile=grading", "-o", "timeout=0", *marker,
        ]
        sandboxed = [
            sys.executable, "-m", "grader.grade", str(submission), str(Path(scratch) / "out" / "results.json"),
            "{}", "0", args.only,
        ]
        plain, boxed = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
            plain.append(timed(in_process))
            boxed.append(timed(sandboxed))
        score = json.loads((Path(scratch) / "out" / "results.json").read_text())["score"]
    median_plain, median_boxed = statistics.median(plain), statistics.median(boxed)
    print(f"in-process (pytest --impl, unsandboxed): {median_plain:6.1f} s  runs: {', '.join(f'{t:.1f}' for t in plain)}")
    print(f"sandboxed  (python -m grader.grade):     {median_boxed:6.1f} s  runs: {', '.join(f'{t:.1f}' for t in boxed)}")
    print(f"ratio sandboxed / in-process:            {median_boxed / median_plain:6.3f}   (reference scored {score:g})")


if __name__ == "__main__":
    main()
