"""Trusted side: regrades as change sets that staff review before they count.

A regrade is grading the same submission again (`grade --regrade STUDENT`, `--regrade-all`,
or a changed suite, reference or rubric). Its result goes into the gradebook's `pending`
table (and OUT/.pending/STUDENT/results.json) instead of replacing the grade; `regrade show`
lists, per student and per problem, what would change and which tests flipped; `regrade
apply` makes it the grade (the old one goes into results_history), `regrade discard` drops
it. A first grade, and a new submission of a student, count at once (the old grade still
goes into history). Overrides are keyed by test, so they apply to the new result as to the
old; the late penalty is the policy's, recomputed on every run.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from grader.core import results
from grader.staff.written import written_marks
from grader.staff.grading.gradebook import Gradebook
from seam import REPO_ROOT

PENDING_DIR = ".pending"


@functools.lru_cache(maxsize=1)
def grader_commit() -> str:
    """The git commit of the kit that graded (`git rev-parse HEAD`), or "unknown" outside a checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def is_regrade(book: Gradebook, student: str, sha256: str) -> bool:
    """The student has a grade for this very submission already: a new result is a regrade."""
    row = book.submission(student)
    return row is not None and row["status"] == "graded" and row["submission_sha256"] == sha256


def pending_file(out_dir: Path, student: str) -> Path:
    return out_dir / PENDING_DIR / student / "results.json"


# --- what a change set would change -----------------------------------------------------
@dataclass
class Flip:
    key: str
    old: str  # "passed", "failed", "skipped", or "absent"
    new: str
    old_points: float
    new_points: float
    override: float | None  # the staff's points for this test: they count either way


@dataclass
class Change:
    student: str
    old_final: float
    new_final: float
    problems: dict[str, tuple[tuple[float, float], tuple[float, float]]]  # module -> ((old, max), (new, max)) where it differs
    flips: list[Flip] = field(default_factory=list)
    why: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.flips or self.problems or abs(self.old_final - self.new_final) > 1e-9)


def changes(book: Gradebook, students: list[str] | None = None) -> tuple[list[Change], list[tuple[str, str]]]:
    """The pending change sets (of `students`, or all), and (student, why) for each one that cannot be read."""
    found, broken = [], []
    for row in book.pending():
        if students and row["student"] not in students:
            continue
        try:
            old = book.results(row["student"]) or {"tests": [], "extra_data": {}}
            new = json.loads(row["results"])
            found.append(_change(book, row, old, new))
        except Exception as error:  # noqa: BLE001 (any exception: that student is named, the rest are shown)
            broken.append((row["student"], f"{type(error).__name__}: {str(error)[:300]}"))
    return found, broken


def _change(book: Gradebook, row, old: dict, new: dict) -> Change:
    student = row["student"]
    overrides = {o["test_key"]: o["points"] for o in book.overrides(student)}
    marks = written_marks.marks_of(book, student)  # staff's marks of written explanations count where their text is unchanged
    old, new = (written_marks.apply(copy.deepcopy(data), marks) for data in (old, new))
    before, after = _tests(old), _tests(new)
    flips = []
    for key in sorted(set(before) | set(after)):
        (s0, p0), (s1, p1) = before.get(key, ("absent", 0.0)), after.get(key, ("absent", 0.0))
        if s0 != s1 or abs(p0 - p1) > 1e-9:
            flips.append(Flip(key, s0, s1, p0, p1, overrides.get(key)))
    old_problems, new_problems = results.per_problem(old), results.per_problem(new)
    problems = {m: (old_problems.get(m, (0.0, 0.0)), new_problems.get(m, (0.0, 0.0)))
                for m in sorted(set(old_problems) | set(new_problems)) if old_problems.get(m) != new_problems.get(m)}
    current = book.submission(student)
    old_final = _final(before, overrides, current["late_penalty_pct"])
    new_final = _final(after, overrides, row["late_penalty_pct"])
    return Change(student, old_final, new_final, problems, flips, _why(old.get("extra_data", {}), new["extra_data"], current, row))


def _tests(data: dict) -> dict[str, tuple[str, float]]:
    return {t["extra_data"]["key"]: ("skipped" if t["extra_data"].get("skipped") else t["status"], t["score"]) for t in data["tests"]}


def _final(tests: dict[str, tuple[str, float]], overrides: dict[str, float], penalty_pct: float) -> float:
    raw = sum(overrides.get(key, points) for key, (_, points) in tests.items())
    return raw * (1 - penalty_pct / 100.0)


def _why(old: dict, new: dict, current, row) -> list[str]:
    reasons = []
    for label, key in (("suite", "suite_version"), ("grader", "grader_version"), ("grader commit", "grader_commit")):
        if old.get(key, "unknown") != new.get(key, "unknown"):
            reasons.append(f"{label} {str(old.get(key, 'unknown'))[:12]} -> {str(new.get(key, 'unknown'))[:12]}")
    if current["scope"] != row["scope"]:
        reasons.append(f"scope {current['scope'] or 'all'} -> {row['scope'] or 'all'}")
    return reasons or ["same suite and grader (a forced regrade)"]


# --- apply or discard -------------------------------------------------------------------
def apply(book: Gradebook, students: list[str] | None = None) -> list[str]:
    """Make the pending results the grades (each in one transaction); write their results.json."""
    applied = []
    for row in book.pending():
        if students and row["student"] not in students:
            continue
        data = book.apply_pending(row["student"])
        applied_file = Path(row["out_file"])
        results.write_atomically(applied_file, data)
        staff = results.staff_file(pending_file(applied_file.parent.parent, row["student"]))
        if staff.is_file():  # the regrade's staff-only output and log go with its results
            staff.replace(results.staff_file(applied_file))
        _remove_pending_file(applied_file, row["student"])
        applied.append(row["student"])
    return applied


def discard(book: Gradebook, students: list[str] | None = None) -> list[str]:
    dropped = []
    for row in book.pending():
        if students and row["student"] not in students:
            continue
        book.discard_pending(row["student"])
        _remove_pending_file(Path(row["out_file"]), row["student"])
        dropped.append(row["student"])
    return dropped


def _remove_pending_file(applied_file: Path, student: str) -> None:
    pending = pending_file(applied_file.parent.parent, student)
    pending.unlink(missing_ok=True)
    results.staff_file(pending).unlink(missing_ok=True)
    if pending.parent.is_dir() and not any(pending.parent.iterdir()):
        pending.parent.rmdir()
