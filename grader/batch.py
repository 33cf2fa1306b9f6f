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

import hashlib
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from grader import changeset, late, results
from grader.executors import Grading, Job
from grader.grade import BadSubmission, locate
from grader.gradebook import Gradebook

SKIP_NAMES = ("__MACOSX",)


# --- discover -------------------------------------------------------------------------
def is_class_folder(path: Path) -> bool:
    """A folder of submissions: it has no assignment/ itself, but its entries hold one."""
    return path.is_dir() and not (path / "assignment").is_dir() and any(_holds_assignment(p) for p in _entries(path))


def discover(paths: list[Path]) -> dict[str, Path]:
    """student -> submission, from class folders (each entry a student) and single submissions."""
    found: dict[str, Path] = {}
    for path in paths:
        for submission in _entries(path) if is_class_folder(path) else [path]:
            student = submission.stem if submission.suffix == ".zip" else submission.name
            if student in found:
                raise ValueError(f"two submissions for {student}: {found[student]} and {submission}")
            found[student] = submission
    return dict(sorted(found.items()))


def _entries(folder: Path) -> list[Path]:
    # Every sub-folder counts, even one with no assignment/: it is graded 0 with a message,
    # so a broken upload shows up in the gradebook instead of vanishing.
    return sorted(
        p for p in folder.iterdir()
        if not p.name.startswith((".", "_")) and p.name not in SKIP_NAMES and (p.is_dir() or p.suffix == ".zip")
    )


def _holds_assignment(path: Path) -> bool:
    if path.suffix == ".zip":
        return path.is_file()
    return (path / "assignment").is_dir() or any((c / "assignment").is_dir() for c in path.iterdir() if c.is_dir())


def fingerprint(submission: Path) -> str:
    """The digest results.json will carry (assignment/'s files), or one of the raw bytes if unreadable."""
    with tempfile.TemporaryDirectory(prefix="digest-") as scratch:
        try:
            return results.submission_digest(locate(submission, Path(scratch)))
        except (BadSubmission, zipfile.BadZipFile, OSError):
            digest = hashlib.sha256()
            for path in sorted([submission] if submission.is_file() else submission.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    digest.update(path.read_bytes())
            return "unreadable-" + digest.hexdigest()[:16]


# --- plan -----------------------------------------------------------------------------
@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # already graded: skipped this run
    review: dict[str, Path] = field(default_factory=dict)  # regrades into the change set: student -> results.json once applied
    pending: list[str] = field(default_factory=list)  # regraded already, awaiting review: skipped this run


def plan(
    students: dict[str, Path],
    book: Gradebook,
    out_dir: Path,
    scope: str,
    regrade: set[str],
    regrade_all: bool,
    policy: late.LatePolicy | None,
) -> Plan:
    suite = results.suite_version()
    the_plan = Plan()
    for student, submission in students.items():
        sha = fingerprint(submission)
        lateness = late.assess(policy, submission)
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


# --- run ------------------------------------------------------------------------------
def run(jobs: list[Job], executor, grading: Grading, book: Gradebook, console: Console, review: dict[str, Path] | None = None) -> dict[str, float]:
    """Grade `jobs`, recording each as it finishes (`review`'s students into the change set); return student -> seconds it took."""
    scope = ",".join(grading.modules or ())
    suite = results.suite_version()
    took: dict[str, float] = {}
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("tests [green]{task.fields[passed]} passed[/] [red]{task.fields[failed]} failed[/], submissions: {task.fields[errors]} grader error(s)"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("grading", total=len(jobs), passed=0, failed=0, errors=0)
        counts = {"passed": 0, "failed": 0, "errors": 0}
        changed: list[str] = []
        for job, outcome, seconds in executor.run(jobs, grading):
            _record(book, job, outcome, scope, seconds, counts, (review or {}).get(job.student))
            took[job.student] = seconds
            progress.update(task, advance=1, **counts)
            if outcome.get("ok") and outcome["results"]["extra_data"]["suite_version"] != suite:
                changed.append(job.student)
    if changed:
        # Someone edited the suites, the reference or the rubric while this batch ran.
        console.print(f"[yellow]the suites changed during this batch; {len(changed)} student(s) were graded by another "
                      "version than the rest. Run again: students not graded by the current suites are graded again.")
    return took


def _record(book: Gradebook, job: Job, outcome: dict, scope: str, seconds: float, counts: dict, applied_file: Path | None) -> None:
    if not outcome.get("ok"):
        book.record_error(job.student, job.sha256, scope, outcome.get("error", "unknown error"), job.late, seconds)
        counts["errors"] += 1
        return
    data = outcome["results"]
    data["extra_data"].setdefault("grader_commit", changeset.grader_commit())
    results.write_atomically(job.out_file, data)  # the gradebook's copy and the file agree
    if applied_file is not None:
        book.record_pending(job.student, job.sha256, scope, data, job.late, seconds, applied_file)
    else:
        book.record(job.student, job.sha256, scope, data, job.late, seconds)
    for test in data["tests"]:
        if not test["extra_data"].get("skipped"):
            counts["passed" if test["status"] == "passed" else "failed"] += 1
