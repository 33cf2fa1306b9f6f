"""`python -m grader grade`: grade submissions in the sandbox into the gradebook (trusted side)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.staff import batch, config, executors, gradebook, late, written_marks

from grader.core import canary, integrity, results, written
from grader.staff.executors import Grading, grade_in_subprocess  # noqa: F401  (part of this command's API)
from grader.staff.gradebook import Gradebook
from grader.core.student_text import printable
from grader.core.sandbox import Limits, SandboxUnavailable, isolation_level, layers_for
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
    grade.add_argument("--jobs", "-j", type=positive_int, default=os.cpu_count() or 1, help="parallel local workers (default: the cores, %(default)s); with Ray, one task per CPU of the cluster")
    grade.add_argument("--regrade", action="append", default=[], metavar="STUDENT", help="grade this student again even if done (repeatable)")
    grade.add_argument("--regrade-all", action="store_true", help="grade everyone again (staff overrides are kept)")
    grade.add_argument("--config", type=Path, help="course config (TOML), checked before anything runs: [late] the late policy, [submissions] times = a staff file of submission times, [integrity] tamper = \"flag\" or \"zero\"")
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
    grade.add_argument(
        "--skip-canary",
        action="store_true",
        help="do not grade the reference through the sandbox first (a few seconds) to prove the workers "
        "can run; a sandbox that fails is then a grader error per student, retried on the next run",
    )
    grade.set_defaults(run=run)


def positive_int(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


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
    """Exit 0: every submission graded (or unreadable, with its reason); 1: the grader failed on
    some (not recorded as grades; the next run retries them); 2: nothing ran (bad input)."""
    console = Console()
    paths = args.submissions or [EXAMPLES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        console.print(Text(f"no such submission: {', '.join(map(str, missing))}", style="red"))
        return 2
    try:  # everything that can be checked before grading is checked now, so nothing fails mid-batch
        course = config.load(args.config)
        grading = _grading(args, course)
        times = late.SubmissionTimes(course.times_file)
        level = isolation_level()
        students = batch.discover(paths)
        times.check(students)  # a malformed staff time stops the run here, not mid-batch
    except (config.ConfigError, SandboxUnavailable, ValueError) as error:
        console.print(Text(str(error), style="red"))
        return 2
    if level == "none" and not args.allow_weak_sandbox:
        console.print(f"[red]{SandboxUnavailable.__doc__} Pass --allow-weak-sandbox to grade anyway.")
        return 2
    unknown = sorted(set(args.regrade) - set(students))
    if unknown:
        console.print(Text(f"--regrade: no submission for {', '.join(unknown)}", style="red"))
        return 2
    book = Gradebook(args.gradebook or args.out / gradebook.DEFAULT_PATH.name)
    try:
        the_plan = batch.plan(students, book, args.out, grading.scope, set(args.regrade), args.regrade_all, late.policy_of(course), times)
        console.print(f"Sandbox: {level} ({', '.join(layers_for(level))})")
        console.print(f"{len(students)} submission(s): {len(the_plan.jobs)} to grade, {len(the_plan.done)} already graded (same submission "
                      f"and suites); regrades kept for review: {len(the_plan.review)} now, {len(the_plan.pending)} from before")
        took = {}
        if the_plan.jobs and grading.runs_suites and not args.skip_canary:
            try:
                canary.check_sandbox_works(grading.limits, args.allow_weak_sandbox)
            except SandboxUnavailable as error:  # never a table of zeros
                console.print(f"The sandbox cannot grade on this machine: {error}", style="red", markup=False)
                return 2
        if the_plan.jobs:
            executor = executors.make(args.executor, args.jobs, args.address) if grading.runs_suites else None
            console.print(f"Executor: {executor.describe()}" if executor else "The written part alone: graded here, no student code run")
            try:
                took = batch.run(the_plan.jobs, executor, grading, book, console, the_plan.review)
            finally:
                getattr(executor, "close", lambda: None)()
        for part in gradebook_table(book, list(students), took):
            console.print(part)
        console.print(f"gradebook: {book.path}   results: {args.out}/STUDENT/results.json")
        written_notes(book, list(students), grading, console)
        if book.pending():
            console.print(f"{len(book.pending())} regrade(s) pending review: python -m grader regrade show --gradebook {book.path}")
        failed = [s for s in students if book.submission(s)["status"] == "error"]
        if failed:
            console.print(Text(f"the grader failed on {len(failed)} submission(s): not recorded as grades; run again to retry them", style="red"))
        return 1 if failed else 0
    finally:
        book.close()


def _modules(only: list[str] | None) -> tuple[str, ...] | None:
    if not only:
        return None
    modules = tuple(m.strip() for group in only for m in group.split(",") if m.strip())
    unknown = sorted(set(modules) - {*MODULES, written.PART})
    if unknown:
        raise SystemExit(f"--only: no such problem(s) {unknown}; problems are {', '.join(MODULES)} and {written.PART}")
    return modules


def _grading(args: argparse.Namespace, course: config.Course) -> Grading:
    """How to grade: the suites' problems of --only (all without it) and the written part where it is in scope."""
    selection = _modules(args.only)
    suites = None if selection is None else tuple(m for m in selection if m != written.PART)
    in_scope = selection is None or written.PART in selection
    return Grading(limits_from(args), args.allow_weak_sandbox, suites, in_scope, course.term, course.tamper)


def written_notes(book: Gradebook, students: list[str], grading: Grading, console: Console) -> None:
    """What staff must know after grading the written part: a term that differs from the answers files', what awaits marking."""
    if not grading.written:
        return
    extras = [((book.results(s) or {}).get("extra_data") or {}).get(written.PART) or {} for s in students]
    other = sorted({str(e.get("term_in_file"))[:40] for e in extras if e.get("term_in_file") not in (None, grading.term)})
    if other:
        console.print(Text(f"the written part was graded with term {grading.term!r} ([course] term of --config); answers files "
                           f"name {', '.join(map(repr, other))}: a wrong --config draws everyone the wrong numbers", style="yellow"))
    waiting = [a for a in written_marks.answers(book, students) if a.state in ("pending", "stale")]
    if waiting:
        console.print(f"{len(waiting)} written explanation(s) await marking: python -m grader written unmarked --gradebook {book.path}")


def gradebook_table(book: Gradebook, students: list[str], took: dict[str, float]) -> list:
    """The score table for `students` and its notes, from the gradebook (so with overrides and late penalties)."""
    rows, finals = [], {}
    final_scores = book.final_scores()
    for student in students:
        row = book.submission(student)
        data = book.results(student)
        if row["status"] == "error" or not data:
            outcome = {"ok": False, "error": row["error"] or "not graded"}
        else:
            outcome = {"ok": True, "results": _still_held(book, student, data)}
        rows.append((student, outcome, took.get(student, row["seconds"])))
        final = final_scores.get(student)
        if row["status"] == "graded" and final is not None:
            penalty = f" -{final['late_penalty_pct']:g}%" if final["late_penalty_pct"] else ""
            finals[student] = f"{final['final']:.4g}{penalty}"
    adjusted = any(final_scores[s]["final"] != final_scores[s]["score"] for s in finals)
    return score_table(rows, finals if adjusted else None)  # a "final" column only where overrides or penalties apply


def _still_held(book: Gradebook, student: str, data: dict) -> dict:
    """`data` with only the problems still held for review (a release writes overrides for them all)."""
    held = data["extra_data"].get("held_for_review")
    if not held:
        return data
    overridden = {o["test_key"] for o in book.overrides(student)}
    pending = [p for p in held if not set(integrity.held_points(data, p)) <= overridden]
    return {**data, "extra_data": {**data["extra_data"], "held_for_review": pending}}


def score_table(rows, finals: dict[str, str] | None = None) -> list:
    """rows: (name, grade_in_subprocess outcome, seconds); finals: name -> final score text.

    Compact enough for 80 columns and a log file: problems as P1..P8 with a legend under the
    table, scores as points (the maximum is in the legend), and each flag, unreadable reason or
    grader error as a note line below instead of a wide column. Student names are Text with
    control characters removed: never markup, never escape sequences."""
    graded = {t["tags"][0] for _, o, _ in rows if o.get("ok") for t in o["results"]["tests"]}
    modules = [m for m in (*MODULES, written.PART) if m in graded] or list(MODULES)  # a scoped run shows its problems only
    # Eight problems and the written part leave a name no room in 80 columns: W is then in the total, said in the legend.
    folded = len(modules) > len(MODULES)
    modules = [m for m in modules if m != written.PART] if folded else modules
    table = Table(title="Scores", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    table.add_column("student", overflow="fold", ratio=1)
    table.add_column("total", justify="right", no_wrap=True)
    for module in modules:
        table.add_column(_label(module), justify="right", no_wrap=True)
    if finals is not None:
        table.add_column("final", justify="right", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    notes, maxima = [], {}
    final_cells = lambda name: [finals.get(name, "")] if finals is not None else []  # noqa: E731
    for name, outcome, seconds in rows:
        student = Text(printable(name))
        if not outcome.get("ok"):
            last_line = batch.error_summary(outcome["error"])
            table.add_row(student, Text("ERROR", style="red"), *[""] * len(modules), *final_cells(name), f"{seconds:.0f}")
            notes.append(_note(name, "grader error, not a grade (run again to retry)", last_line, "red"))
            continue
        data = outcome["results"]
        problems = results.per_problem(data)
        maxima.update({m: problems[m][1] for m in problems})
        reason = gradebook.unreadable_reason(data)
        if reason:
            table.add_row(student, Text("unreadable", style="yellow"), *[""] * len(modules), *final_cells(name), f"{seconds:.0f}")
            notes.append(_note(name, "unreadable", reason, "yellow"))
            continue
        table.add_row(
            student,
            f"{data['score']:g}",
            *[f"{problems[m][0]:g}" if m in problems else "-" for m in modules],
            *final_cells(name),
            f"{seconds:.0f}",
        )
        flags = sorted({f["kind"] for f in data["extra_data"].get("integrity_flags", [])})
        if flags:
            notes.append(_note(name, "flagged", ", ".join(flags), "magenta"))
        held = data["extra_data"].get("held_for_review")
        if held:  # course.toml's [integrity] tamper = "zero": 0 until staff release it
            notes.append(_note(name, "held for review (tamper)", f"{', '.join(held)}: python -m grader override {name} --release PROBLEM", "magenta"))
    legend = "  ".join(f"{_label(m)} {m}" + (f" /{maxima[m]:g}" if m in maxima else "") for m in (*modules, *[written.PART] * folded))
    legend += "  (W: in the total, no column)" if folded else ""
    return [table, Text(legend + "   s: seconds", style="dim"), *notes]


def _label(part: str) -> str:
    """A score column's head: P1..P8 for the problems, W for the written part."""
    return "W" if part == written.PART else f"P{MODULES.index(part) + 1}"


def _note(name: str, what: str, detail: str, style: str) -> Text:
    return Text.assemble((printable(name), "bold"), (f": {what}: ", style), printable(detail)[:300])
