"""`python -m grader ...`: the staff's commands (trusted side)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader import results
from grader.sandbox import Limits, SandboxUnavailable, isolation_level, layers_for
from tests.seam import MODULES, REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser(
        "grade",
        help="grade submissions in the sandbox; write NAME/results.json (Gradescope format) per submission",
        description="Grade each SUBMISSION (a folder holding assignment/, or a .zip of one) with the "
        "public and hidden suites, student code sandboxed. With no SUBMISSION, grades the bundled "
        f"examples in {EXAMPLES.relative_to(REPO_ROOT)}/.",
    )
    grade.add_argument("submissions", nargs="*", type=Path, metavar="SUBMISSION")
    grade.add_argument("--out", type=Path, default=Path("grading-results"), help="results folder (default: %(default)s)")
    _limit_options(grade)
    grade.add_argument(
        "--allow-weak-sandbox",
        action="store_true",
        help="grade even where the machine allows no namespaces (rlimits and an audit hook only); "
        "the results say which layers were active",
    )
    args = parser.parse_args(argv)
    return _grade(args)


def _limit_options(parser: argparse.ArgumentParser) -> None:
    defaults = Limits()
    parser.add_argument("--call-timeout", type=float, default=defaults.call_seconds, help="seconds per call into student code (default: %(default)s)")
    parser.add_argument("--test-timeout", type=float, default=defaults.test_seconds, help="seconds per test (default: %(default)s)")
    parser.add_argument("--submission-timeout", type=float, default=defaults.submission_seconds, help="seconds per submission (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_bytes // 2**20, help="memory a worker may add after importing torch (default: %(default)s)")


def limits_from(args: argparse.Namespace) -> Limits:
    for name in ("call_timeout", "test_timeout", "submission_timeout", "memory_mb"):
        if getattr(args, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    return Limits(
        call_seconds=args.call_timeout,
        test_seconds=args.test_timeout,
        submission_seconds=args.submission_timeout,
        memory_bytes=args.memory_mb * 2**20,
    )


def _grade(args: argparse.Namespace) -> int:
    console = Console()
    limits = limits_from(args)
    submissions = args.submissions or sorted(p for p in EXAMPLES.iterdir() if p.is_dir() or p.suffix == ".zip")
    missing = [s for s in submissions if not s.exists()]
    if missing:
        console.print(f"[red]no such submission: {', '.join(map(str, missing))}")
        return 2
    level = isolation_level()
    if level == "none" and not args.allow_weak_sandbox:
        console.print(f"[red]{SandboxUnavailable.__doc__} Pass --allow-weak-sandbox to grade anyway.")
        return 2
    console.print(f"Sandbox: {level} ({', '.join(layers_for(level))})")
    rows = []
    for submission in submissions:
        name = submission.stem if submission.suffix == ".zip" else submission.name
        out_file = args.out / name / "results.json"
        started = time.monotonic()
        with console.status(f"grading {name} ..."):
            outcome = grade_in_subprocess(submission, out_file, limits, args.allow_weak_sandbox)
        rows.append((name, outcome, time.monotonic() - started))
    console.print(score_table(rows))
    console.print(f"results: {args.out}/NAME/results.json")
    return 0 if all(outcome.get("ok") for _, outcome, _ in rows) else 1


def grade_in_subprocess(submission: Path, out_file: Path, limits: Limits, allow_weak: bool) -> dict:
    """Grade one submission in a fresh trusted process; its results.json is the outcome."""
    command = [
        sys.executable, "-m", "grader.grade", str(submission.resolve()), str(out_file.resolve()),
        json.dumps(dataclasses.asdict(limits)), "1" if allow_weak else "0",
    ]
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if finished.returncode != 0:
        return {"ok": False, "error": (finished.stderr or finished.stdout)[-3000:]}
    return {"ok": True, "results": json.loads(out_file.read_text())}


def score_table(rows) -> Table:
    table = Table(title="Scores")
    table.add_column("submission")
    table.add_column("score", justify="right")
    for module in MODULES:
        table.add_column(module, justify="right")
    table.add_column("flags")
    table.add_column("seconds", justify="right")
    for name, outcome, seconds in rows:
        if not outcome.get("ok"):
            table.add_row(name, "[red]error", *[""] * len(MODULES), outcome["error"].strip().splitlines()[-1][:60], f"{seconds:.1f}")
            continue
        data = outcome["results"]
        problems = results.per_problem(data)
        flags = sorted({f["kind"] for f in data["extra_data"].get("integrity_flags", [])})
        table.add_row(
            name,
            f"{data['score']:g}/{data['max_score']:g}",
            *[f"{problems.get(m, (0, 0))[0]:g}/{problems.get(m, (0, 0))[1]:g}" for m in MODULES],
            ", ".join(flags),
            f"{seconds:.1f}",
        )
    return table
