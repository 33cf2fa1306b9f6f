"""Trusted side: grade a class into the gradebook (the driver).

    discover   a folder of submissions (one sub-folder or .zip per student) -> student: path
    plan       skip every student already graded for the same submission and suites; a
               regrade of the same submission goes into a change set for staff to review
    run        hand the rest to an executor; record each outcome the moment it arrives

Resumable by construction: a student is recorded in one transaction right after their
grade arrives, and "done" means a graded row for the same submission digest, suite version
and scope. A driver killed at any moment loses only the grades in flight; the next run
grades exactly the students that are missing.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TimeElapsedColumn
from rich.text import Text

from grader.staff.course import late
from grader.staff.grading import changeset, executors, interrupts
from grader.staff.grading.scores import error_summary

from grader.core import integrity, intake, results, written
from grader.staff.grading.executors import Grading, Job
from grader.staff.grading.gradebook import Gradebook, unreadable_reason
from grader.core.student_text import printable, shorten

SKIP_NAMES = ("__MACOSX",)


# --- discover -------------------------------------------------------------------------
class NoSubmissions(ValueError):
    """A class folder with nothing in it to grade."""


def is_class_folder(path: Path) -> bool:
    """A folder of submissions: a folder with no assignment/ of its own (each entry is a student)."""
    return path.is_dir() and not (path / "assignment").is_dir()


def discover(paths: list[Path]) -> dict[str, Path]:
    """student -> submission, from class folders (each entry a student) and single submissions.

    In a class folder, `carol/` beside `carol.zip` are two students, "carol" and "carol.zip"
    (`twins` names them for staff to settle): neither stops the class. Two SUBMISSION arguments
    with one name are the staff's slip: a ValueError before anything runs."""
    found: dict[str, Path] = {}
    for path in paths:
        in_class = is_class_folder(path)
        entries = _entries(path) if in_class else [path]
        if not entries:
            raise NoSubmissions(f"no submissions found in {path}: expected one sub-folder or .zip per student")
        for submission in entries:
            student = submission.stem if submission.suffix == ".zip" else submission.name
            if student in found and in_class and found[student].parent == submission.parent:
                student = submission.name  # carol.zip beside carol/: both graded, under names that differ
            if student in found:
                raise ValueError(f"two submissions for {student}: {found[student]} and {submission}")
            found[student] = submission
    return dict(sorted(found.items()))


def twins(students: dict[str, Path]) -> list[tuple[str, str]]:
    """(folder student, .zip student) pairs that look like one student's two uploads."""
    return [(name.removesuffix(".zip"), name) for name, path in students.items()
            if path.suffix == ".zip" and name == path.name and name.removesuffix(".zip") in students]


def _entries(folder: Path) -> list[Path]:
    # Every sub-folder counts, even one with no assignment/: it is recorded as unreadable with
    # its reason, so a broken upload shows up in the gradebook instead of vanishing.
    return sorted(
        p for p in folder.iterdir()
        if not p.name.startswith((".", "_")) and p.name not in SKIP_NAMES and (p.is_dir() or p.suffix == ".zip")
    )


def fingerprint(submission: Path) -> str:
    """The digest results.json will carry (of the staged copy), or one of a refused submission's names and sizes."""
    with tempfile.TemporaryDirectory(prefix="digest-") as scratch:
        try:
            return results.submission_digest(intake.stage(submission, Path(scratch)).folder)
        except (intake.BadSubmission, OSError) as error:
            return intake.unreadable_digest(submission, str(error))


# --- plan -----------------------------------------------------------------------------
@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # already graded (or unreadable): skipped this run
    review: dict[str, Path] = field(default_factory=dict)  # regrades into the change set: student -> results.json once applied
    pending: list[str] = field(default_factory=list)  # regraded already, awaiting review: skipped this run
    failed: list[str] = field(default_factory=list)  # the grader failed on them before grading: recorded as grader errors
    lateness: dict[str, late.Late] = field(default_factory=dict)  # each student's time, its source, and the policy's verdict


def plan(
    students: dict[str, Path],
    book: Gradebook,
    out_dir: Path,
    scope: str,
    regrade: set[str],
    regrade_all: bool,
    policy: late.LatePolicy | None,
    times: late.SubmissionTimes | None = None,
) -> Plan:
    """The jobs to run and the students already done. `times`: where submission times come from
    (staff sources only; `SubmissionTimes.check` them first for one error up front)."""
    times = times or late.SubmissionTimes()
    suite = results.suite_version()
    the_plan = Plan()
    for student, submission in students.items():
        try:  # one student's input stops no one else: whatever fails here is that student's grader error
            sha = fingerprint(submission)
            lateness = times.assess(policy, student, submission)
        except Exception as error:  # noqa: BLE001 (any exception: the batch goes on)
            book.record_error(student, intake.unreadable_digest(submission, repr(error)), scope, _described(error), late.Late(), 0.0)
            the_plan.failed.append(student)
            continue
        the_plan.lateness[student] = lateness
        forced = regrade_all or student in regrade
        waiting = not forced and book.is_pending(student, sha, suite, scope)
        if waiting or (not forced and book.is_complete(student, sha, suite, scope)):
            if policy is not None:
                book.set_late(student, lateness)  # the policy may have changed: no regrade needed for that
            (the_plan.pending if waiting else the_plan.done).append(student)
            continue
        out_file = out_dir / student / "results.json"
        if changeset.is_regrade(book, student, sha):  # the same work graded before: staff review the change
            the_plan.review[student] = out_file
            out_file = changeset.pending_file(out_dir, student)
        the_plan.jobs.append(Job(student, submission, out_file, sha, lateness))
    return the_plan


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:500]}"


# --- run ------------------------------------------------------------------------------
@dataclass
class Counts:
    """What the console says while a batch runs: tests as they finish, submissions by outcome."""

    passed: int = 0
    failed: int = 0
    graded: int = 0
    unreadable: int = 0
    errors: int = 0  # the grader failed: nothing recorded as a grade, retried on the next run
    tests_finished: int = 0  # tests (parametrized cases) of the submissions finished so far
    tests_each: int | None = None  # tests one submission runs (the same suites for everyone)


def run(jobs: list[Job], executor, grading: Grading, book: Gradebook, console: Console, review: dict[str, Path] | None = None,
        took: dict[str, float] | None = None) -> dict[str, float]:
    """Grade `jobs`, recording each as it finishes (`review`'s students into the change set); return
    student -> seconds it took (`took`, filled as they are recorded, tells a stopped run what it kept)."""
    scope = grading.scope
    suite = results.suite_version()
    took = {} if took is None else took
    counts = Counts()
    changed: list[str] = []
    source = executor.run(jobs, grading) if grading.runs_suites else _written_alone(jobs, grading)
    with progress_display(console, jobs, counts) as finished, closing(source) as outcomes:
        for job, outcome, seconds in outcomes:
            with interrupts.deferred():  # Ctrl-C or SIGTERM: this student is recorded whole first
                _count_tests(job, counts)
                try:
                    outcome = _trusted_parts(outcome, job, grading)
                    _record(book, job, outcome, scope, seconds, counts, (review or {}).get(job.student))
                except Exception as error:  # noqa: BLE001 (a result that cannot be recorded is that student's grader error)
                    outcome = {"ok": False, "error": f"recording the grade failed: {_described(error)}"}
                    book.record_error(job.student, job.sha256, scope, outcome["error"], job.late, seconds)
                    counts.errors += 1
                took[job.student] = seconds
            finished(job, outcome, seconds)
            if outcome.get("ok") and outcome["results"]["extra_data"].get("suite_version") != suite:
                changed.append(job.student)
    if changed:
        # Someone edited the suites, the reference or the rubric while this batch ran.
        console.print(f"[yellow]the suites changed during this batch; {len(changed)} student(s) were graded by another "
                      "version than the rest. Run again: students not graded by the current suites are graded again.")
    return took


def _count_tests(job: Job, counts: Counts) -> None:
    done, total = read_progress(executors.progress_file(job.out_file))
    counts.tests_finished += done
    if total:
        counts.tests_each = max(counts.tests_each or 0, total)


def _trusted_parts(outcome: dict, job: Job, grading: Grading) -> dict:
    """What the driver adds on the trusted side: the written part, the course's [integrity] policy."""
    if outcome.get("ok") and grading.written and grading.runs_suites:  # on the trusted side, never in a worker
        written.add(outcome["results"], job.submission, job.student, grading.term)
    if outcome.get("ok"):  # the course's [integrity] policy, here where course.toml is known
        outcome["results"] = integrity.hold(outcome["results"], grading.tamper)
    return outcome


def _written_alone(jobs: list[Job], grading: Grading):
    """`--only written`: the written part of each submission, graded here; no suite, no student code run."""
    for job in jobs:
        started = time.monotonic()
        try:
            outcome = {"ok": True, "results": written.alone(job.submission, job.student, grading.term)}
        except Exception as error:  # noqa: BLE001 (one student's answers stop no one else's)
            outcome = {"ok": False, "error": f"the written part could not be graded: {_described(error)}"}
        yield job, outcome, time.monotonic() - started


def _record(book: Gradebook, job: Job, outcome: dict, scope: str, seconds: float, counts: Counts, applied_file: Path | None) -> None:
    executors.progress_file(job.out_file).unlink(missing_ok=True)
    if not outcome.get("ok"):
        book.record_error(job.student, job.sha256, scope, outcome.get("error", "unknown error"), job.late, seconds)
        counts.errors += 1
        return
    data = outcome["results"]
    data["extra_data"].setdefault("grader_commit", changeset.grader_commit())
    results.write_atomically(job.out_file, data)  # the gradebook's copy and the file agree
    if applied_file is not None:
        book.record_pending(job.student, job.sha256, scope, data, job.late, seconds, applied_file)
    else:
        book.record(job.student, job.sha256, scope, data, job.late, seconds)
    if unreadable_reason(data):
        counts.unreadable += 1
        return
    counts.graded += 1
    for test in data["tests"]:
        if not test["extra_data"].get("skipped") and test["status"] != "pending":
            if test["status"] == "passed":
                counts.passed += 1
            else:
                counts.failed += 1


def outcome_line(job: Job, outcome: dict, seconds: float) -> Text:
    """One finished submission, in plain words (a log line; the student's name as text, never markup)."""
    line = Text()
    line.append(shorten(printable(job.student), 40), style="bold")
    if not outcome.get("ok"):
        line.append(f": grader error (retried on the next run): {printable(error_summary(outcome.get('error', '')))[:200]}", style="red")
    elif unreadable_reason(outcome["results"]):
        line.append(f": unreadable: {printable(unreadable_reason(outcome['results']))[:200]}", style="yellow")
    else:
        data = outcome["results"]
        line.append(f": graded {data['score']:g}/{data['max_score']:g}")
    line.append(f" ({seconds:.0f} s)")
    return line


# --- progress -------------------------------------------------------------------------
@contextmanager
def progress_display(console: Console, jobs: list[Job], counts: Counts):
    """Yields finished(job, outcome, seconds). On a terminal: a bar of tests done as they finish
    (each grading subprocess counts its tests into a file) and who is in progress; otherwise
    (a log, a pipe): one plain line per finished submission."""
    done: set[str] = set()
    if console.is_terminal:
        columns = (BarColumn(bar_width=10), _LiveTests(jobs, done, counts), TimeElapsedColumn())
        with Progress(*columns, console=console, refresh_per_second=2) as progress:
            task = progress.add_task("grading", total=len(jobs))

            def finished(job, outcome, seconds):
                done.add(job.student)
                progress.console.print(outcome_line(job, outcome, seconds))
                progress.update(task, completed=len(done))
            yield finished
    else:
        def finished(job, outcome, seconds):
            done.add(job.student)
            console.print(Text(f"[{len(done)}/{len(jobs)}] ").append(outcome_line(job, outcome, seconds)))  # wrapped at the width, never cut
        yield finished
    console.print(
        f"{len(done)} submission(s): {counts.graded} graded, {counts.unreadable} unreadable, {counts.errors} grader error(s); "
        f"tests {counts.passed} passed, {counts.failed} failed"
    )


class _LiveTests(ProgressColumn):
    """Tests done across the whole batch (finished submissions and those in progress, out of the
    batch's tests), and the students being graded now, from their progress files."""

    def __init__(self, jobs: list[Job], done: set[str], counts: Counts):
        super().__init__()
        self.jobs, self.done, self.counts = jobs, done, counts

    def render(self, task) -> Text:
        tests_done, each, running = self.counts.tests_finished, self.counts.tests_each or 0, []
        for job in self.jobs:
            done, total = read_progress(executors.progress_file(job.out_file))
            if job.student in self.done or total is None:
                continue
            tests_done, each = tests_done + done, max(each, total)
            running.append(f"{shorten(printable(job.student), 16)} {done}/{total}")
        text = Text(f"{len(self.done)}/{len(self.jobs)} done")
        if each:
            text.append(f", tests {tests_done}/{each * len(self.jobs)}")
        if running:
            text.append("; now " + ", ".join(running[:3]) + (" ..." if len(running) > 3 else ""))
        return text


def read_progress(path: Path) -> tuple[int, int | None]:
    """(tests finished, tests in all) from a grading subprocess's progress file; total None before it collected."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0, None
    total = next((int(line.split()[1]) for line in lines if line.startswith("total ")), None)
    return sum(1 for line in lines if not line.startswith("total ")), total
