"""`python -m grader grade`: grade submissions in the sandbox into the gradebook (trusted side)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader import batch, executors, gradebook, late, results
from grader.executors import Grading, grade_in_subprocess  # noqa: F401  (part of this command's API)
from grader.gradebook import Gradebook
from grader.sandbox import Limits, SandboxUnavailable, isolation_level, layers_for
from tests.seam import MODULES, REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions"


def register(commands) -> None:
    grade = commands.add_parser(
        "grade",
        help="grade submissions (or a class folder of them) in the sandbox into a gradebook",
        description="Grade each SUBMISSION (a folder holding assignment/, or a .zip of one) with the "
        "public and hidden suites, student code sandboxed. A SUBMISSION folder with no assignment/ "
        "whose entries hold one is a class: each sub-folder or .zip is one student, named by it. "
        "Every grade goes into the gradebook (SQLite) and OUT/STUDENT/results.json (Gradescope format). "
        "Resumable: students already graded for the same submission and suites are skipped, so a run "
        "that was killed is finished by running it again. With no SUBMISSION, grades the bundled "
        f"examples in {EXAMPLES.relative_to(REPO_ROOT)}/.",
    )
    grade.add_argument("submissions", nargs="*", type=Path, metavar="SUBMISSION")
    grade.add_argument("--out", type=Path, default=gradebook.DEFAULT_OUT, help="results folder (default: %(default)s)")
    grade.add_argument("--gradebook", type=Path, help="the SQLite gradebook (default: OUT/gradebook.sqlite)")
    grade.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="parallel local workers (default: the cores, %(default)s); with Ray, one task per CPU of the cluster")
    grade.add_argument("--regrade", action="append", default=[], metavar="STUDENT", help="grade this student again even if done (repeatable)")
    grade.add_argument("--regrade-all", action="store_true", help="grade everyone again (staff overrides are kept)")
    grade.add_argument("--config", type=Path, help="course config (TOML); its [late] table is the late policy")
    grade.add_argument(
        "--only", action="append", metavar="MODULES",
        help="grade only these problems (comma-separated, repeatable), e.g. --only tensors,flops",
    )
    grade.add_argument("--executor", choices=("local", "ray"), default="local", help="where jobs run (default: %(default)s)")
    grade.add_argument(
        "--address",
        help="Ray cluster address (HEAD_IP:6379, from `ray start --head`); default: a Ray started on this machine. "
        "Tasks ask for a GPU each where the cluster has GPUs, so CUDA tests run instead of skipping",
    )
    add_limit_options(grade)
    grade.add_argument(
        "--allow-weak-sandbox",
        action="store_true",
        help="grade even where the machine allows no namespaces (rlimits and an audit hook only); "
        "the results say which layers were active",
    )
    grade.set_defaults(run=run)


def add_limit_options(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    console = Console()
    grading = Grading(limits_from(args), args.allow_weak_sandbox, _modules(args.only))
    paths = args.submissions or [EXAMPLES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        console.print(f"[red]no such submission: {', '.join(map(str, missing))}")
        return 2
    level = isolation_level()
    if level == "none" and not args.allow_weak_sandbox:
        console.print(f"[red]{SandboxUnavailable.__doc__} Pass --allow-weak-sandbox to grade anyway.")
        return 2
    students = batch.discover(paths)
    unknown = sorted(set(args.regrade) - set(students))
    if unknown:
        console.print(f"[red]--regrade: no submission for {', '.join(unknown)}")
        return 2
    book = Gradebook(args.gradebook or args.out / gradebook.DEFAULT_PATH.name)
    try:
        scope = ",".join(grading.modules or ())
        the_plan = batch.plan(students, book, args.out, scope, set(args.regrade), args.regrade_all, late.load_policy(args.config))
        console.print(f"Sandbox: {level} ({', '.join(layers_for(level))})")
        console.print(f"{len(students)} submission(s): {len(the_plan.jobs)} to grade, {len(the_plan.done)} already graded (same submission "
                      f"and suites); regrades kept for review: {len(the_plan.review)} now, {len(the_plan.pending)} from before")
        took = {}
        if the_plan.jobs:
            executor = executors.make(args.executor, args.jobs, args.address)
            console.print(f"Executor: {executor.describe()}")
            try:
                took = batch.run(the_plan.jobs, executor, grading, book, console, the_plan.review)
            finally:
                getattr(executor, "close", lambda: None)()
        console.print(gradebook_table(book, list(students), took))
        console.print(f"gradebook: {book.path}   results: {args.out}/STUDENT/results.json")
        if book.pending():
            console.print(f"{len(book.pending())} regrade(s) pending review: python -m grader regrade show --gradebook {book.path}")
        return 0 if all(book.submission(s)["status"] == "graded" for s in students) else 1
    finally:
        book.close()


def _modules(only: list[str] | None) -> tuple[str, ...] | None:
    if not only:
        return None
    modules = tuple(m.strip() for group in only for m in group.split(",") if m.strip())
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        raise SystemExit(f"--only: no such problem(s) {unknown}; problems are {', '.join(MODULES)}")
    return modules


def gradebook_table(book: Gradebook, students: list[str], took: dict[str, float]) -> Table:
    """The score table for `students`, from the gradebook (so with overrides and late penalties)."""
    rows, finals = [], {}
    final_scores = book.final_scores()
    for student in students:
        row = book.submission(student)
        data = book.results(student)
        outcome = {"ok": True, "results": data} if data else {"ok": False, "error": row["error"] or "not graded"}
        rows.append((student, outcome, took.get(student, row["seconds"])))
        final = final_scores.get(student)
        if data and final is not None:
            penalty = f" (-{final['late_penalty_pct']:g}% late)" if final["late_penalty_pct"] else ""
            finals[student] = f"{final['final']:.4g}{penalty}"
    adjusted = any(final_scores[s]["final"] != final_scores[s]["score"] for s in finals)
    return score_table(rows, finals if adjusted else None)  # a "final" column only where overrides or penalties apply


def score_table(rows, finals: dict[str, str] | None = None) -> Table:
    """rows: (name, grade_in_subprocess outcome, seconds); finals: name -> final score text."""
    graded = {t["tags"][0] for _, o, _ in rows if o.get("ok") for t in o["results"]["tests"]}
    modules = [m for m in MODULES if m in graded] or list(MODULES)  # a scoped run shows its problems only
    table = Table(title="Scores")
    table.add_column("submission")
    table.add_column("score", justify="right")
    for module in modules:
        table.add_column(module, justify="right")
    table.add_column("flags")
    if finals is not None:
        table.add_column("final", justify="right")
    table.add_column("seconds", justify="right")
    final_cells = lambda name: [finals.get(name, "")] if finals is not None else []  # noqa: E731
    for name, outcome, seconds in rows:
        if not outcome.get("ok"):
            last_line = (outcome["error"].strip().splitlines() or [""])[-1][:60]
            table.add_row(name, "[red]error", *[""] * len(modules), last_line, *final_cells(name), f"{seconds:.1f}")
            continue
        data = outcome["results"]
        problems = results.per_problem(data)
        flags = sorted({f["kind"] for f in data["extra_data"].get("integrity_flags", [])})
        table.add_row(
            name,
            f"{data['score']:g}/{data['max_score']:g}",
            *[f"{problems[m][0]:g}/{problems[m][1]:g}" if m in problems else "-" for m in modules],
            ", ".join(flags),
            *final_cells(name),
            f"{seconds:.1f}",
        )
    return table
