"""`python -m grader grade`: grade submissions in the sandbox into the gradebook (trusted side)."""

from __future__ import annotations

import argparse
import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.commands import make_console
from grader.staff.course import config, late
from grader.staff.grading import batch, executors, gradebook, interrupts, outcomes, scores
from grader.staff.written import written_marks

from grader.core import canary, written
from grader.staff.grading.executors import Grading, grade_in_subprocess  # noqa: F401  (part of this command's API)
from grader.staff.grading.gradebook import Gradebook
from grader.core.student_text import printable
from grader.core.machine import SandboxUnavailable, isolation_level, layers_for
from grader.core.limits import Limits
from seam import MODULES, REPO_ROOT

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
    grade.add_argument("--config", type=Path, help="course config (TOML), checked before anything runs: [late] the late policy, "
                       "[extensions] per student, [submissions] times = a staff file of submission times (modification_times = true "
                       "to time the others by their files; otherwise they are 'time unknown', no penalty), "
                       "[integrity] tamper = \"flag\" or \"zero\"")
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
    some (not recorded as grades; the next run retries them); 2: nothing ran (bad input);
    128 + N: stopped by signal N (Ctrl-C: 130, SIGTERM: 143), what was recorded kept."""
    console = make_console()
    kept = Kept()
    with interrupts.stop_on_signals():
        try:
            return _grade(args, console, kept)
        except interrupts.Interrupted as stop:
            _say_stopped(console, stop, kept, getattr(args, "command_line", "python -m grader grade ..."))
            return stop.exit_status


@dataclass
class Kept:
    """What a run has recorded so far: what an interrupted run tells staff it kept."""

    gradebook: Path | None = None
    students: int = 0
    to_grade: int = 0
    took: dict[str, float] = field(default_factory=dict)  # recorded this run: student -> seconds


def _say_stopped(console: Console, stop: interrupts.Interrupted, kept: Kept, command_line: str) -> None:
    what = "Ctrl-C" if stop.signum == signal.SIGINT else str(stop)
    if kept.gradebook is None:
        console.print(f"Stopped ({what}) before grading began: nothing was written.", style="yellow")
        return
    console.print(Text(
        f"Stopped ({what}). Kept: {len(kept.took)} submission(s) graded in this run are recorded in {kept.gradebook} "
        f"(every grade is recorded whole, or not at all); not graded in this run: {kept.to_grade - len(kept.took)}.\n"
        f"To resume, run the same command again (students already graded are skipped):\n    {command_line}",
        style="yellow",
    ))


def _grade(args: argparse.Namespace, console: Console, kept: Kept) -> int:
    paths = args.submissions or [EXAMPLES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        console.print(Text(f"no such submission: {', '.join(map(str, missing))}", style="red"))
        return 2
    try:  # everything that can be checked before grading is checked now, so nothing fails mid-batch
        course = config.load(args.config)
        grading = _grading(args, course)
        times = late.SubmissionTimes.of(course)
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
        console.print(Text(f"--regrade: no submission for {', '.join(map(printable, unknown))}", style="red"))
        return 2
    _warn_before_grading(console, course, students)
    try:
        book = Gradebook(args.gradebook or args.out / gradebook.DEFAULT_PATH.name)
    except gradebook.GradebookError as error:
        console.print(Text(str(error), style="red"))
        return 2
    kept.gradebook, kept.students = book.path, len(students)
    try:
        if book.upgraded:
            console.print(f"gradebook upgraded to schema {book.schema_version()!r}; the file as it was:", markup=False)
            console.print(str(book.backup), markup=False, soft_wrap=True)  # a path to copy: never folded
        policy = late.policy_of(course)
        the_plan = batch.plan(students, book, args.out, grading.scope, set(args.regrade), args.regrade_all, policy, times)
        kept.to_grade = len(the_plan.jobs)
        console.print(f"Sandbox: {level} ({', '.join(layers_for(level))})")
        console.print(f"{len(students)} submission(s): {len(the_plan.jobs)} to grade, {len(the_plan.done)} already graded (same submission "
                      f"and suites); regrades kept for review: {len(the_plan.review)} now, {len(the_plan.pending)} from before")
        console.print(f"Submission times: {_time_sources(the_plan.lateness, policy)}", markup=False)
        # A local batch's grading service runs the canary first, then every student (torch imported once).
        executor = executors.make(args.executor, args.jobs, args.address, grading.modules) if the_plan.jobs and grading.runs_suites else None
        try:
            if executor is not None and not args.skip_canary:
                try:
                    canary.check_sandbox_works(grading.limits, args.allow_weak_sandbox, getattr(executor, "service", None))
                except SandboxUnavailable as error:  # never a table of zeros
                    console.print(f"The sandbox cannot grade on this machine: {error}", style="red", markup=False)
                    return 2
            if the_plan.jobs:
                console.print(f"Executor: {executor.describe()}" if executor else "The written part alone: graded here, no student code run")
                batch.run(the_plan.jobs, executor, grading, book, console, the_plan.review, kept.took)
        finally:
            getattr(executor, "close", lambda: None)()
        for part in scores.table(scores.rows(book, list(students)), console.width):
            console.print(part)
        console.print(f"gradebook: {book.path}   results: {args.out}/STUDENT/results.json", markup=False)
        written_notes(book, list(students), grading, console)
        failed = [s for s in students if book.submission(s)["status"] == outcomes.GRADER_ERROR]
        if failed:
            console.print(Text(f"the grader failed on {len(failed)} submission(s): not recorded as grades; run again to retry them", style="red"))
        _next_steps(console, book, args)
        return 1 if failed else 0
    finally:
        book.close()


def _warn_before_grading(console: Console, course: config.Course, students: dict[str, Path]) -> None:
    """What staff should settle, said before the batch: it grades anyway."""
    for folder, archive in batch.twins(students):
        console.print(Text(f"{printable(folder)}/ and {printable(archive)}: two submissions for one student? Both are graded, "
                           f"as '{printable(folder)}' and '{printable(archive)}'; remove one and grade again", style="yellow"))
    strangers = sorted(set(course.extensions) - set(students))
    if strangers:
        names = ", ".join(f"'{printable(name)}'" for name in strangers)
        console.print(Text(f"course.toml [extensions]: no submission for {names} (a misspelt name gets no extension)", style="yellow"))


def _time_sources(lateness: dict, policy) -> str:
    """How many students' times came from each source: "3 LMS export, 1 staff file, 2 unknown"."""
    counts = Counter(late_of.time_source for late_of in lateness.values())
    text = ", ".join(f"{n} {source}" for source, n in counts.most_common()) or "none"
    if policy is not None and counts.get(late.UNKNOWN):
        text += " (time unknown: no late penalty taken until staff give the time)"
    return text


def _next_steps(console: Console, book: Gradebook, args: argparse.Namespace) -> None:
    gradebook_option = f" --gradebook {book.path}"
    config_option = f" --config {args.config}" if args.config else ""
    if book.pending():
        console.print(f"next: {len(book.pending())} regrade(s) wait for review: python -m grader regrade show{gradebook_option}", markup=False)
    console.print(f"next: python -m grader report report/{gradebook_option}{config_option}   (grades.csv, feedback pages, class report)",
                  markup=False)


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
                           f"name {', '.join(map(repr, map(printable, other)))}: a wrong --config draws everyone the wrong numbers", style="yellow"))
    waiting = [a for a in written_marks.answers(book, students) if a.state in ("pending", "stale")]
    if waiting:
        console.print(f"{len(waiting)} written explanation(s) await marking: python -m grader written unmarked --gradebook {book.path}",
                      markup=False)
