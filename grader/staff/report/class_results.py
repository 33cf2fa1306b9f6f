"""A class's results, one StudentResult per student: from the gradebook, or from a folder of results.json files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.staff.grading import outcomes
from grader.staff.written import written_marks
from grader.staff.grading.gradebook import Gradebook, Late, unreadable_reason
from grader.staff.grading.outcomes import GRADED, GRADER_ERROR, UNREADABLE
from seam import MODULES


# status: an outcome (graded / unreadable / grader error); written: the written part's points so far; written_pending:
# its points still awaiting staff marking (in no total yet); score: after staff overrides and marks; final: after the
# late penalty too (what the LMS takes); days_late is blank when the submission time is unknown.
CSV_COLUMNS = (
    "student", "status", *MODULES, "written", "written_pending", "score", "days_late", "late_penalty_pct", "final",
    "time_source", "submitted_at", "deadline", "extension", "faults", "integrity_flags",
)


@dataclass
class StudentResult:
    """One student's results.json (None when there is none to read, with the reason in `problem`).

    From the gradebook, the tests' scores already hold staff overrides, `final` is the gradebook's
    final score (after the late penalty), and `late` says when the submission came in, by whose
    word, which deadline applied and what the policy took off.
    """

    student: str
    results: dict | None
    problem: str = ""
    final: float | None = None
    late: Late = field(default_factory=Late)

    @property
    def status(self) -> str:
        """The outcome (grader/staff/grading/outcomes.py): graded / unreadable / grader error."""
        if self.results is None:
            return GRADER_ERROR
        return UNREADABLE if unreadable_reason(self.results) else GRADED

    @property
    def extra(self) -> dict:
        return (self.results or {}).get("extra_data") or {}

    @property
    def all_flags(self) -> list[dict]:
        return list(self.extra.get("integrity_flags") or [])

    @property
    def flags(self) -> list[dict]:
        """Integrity flags only: faults of the code (crash, hang, memory) are `faults`."""
        return outcomes.integrity(self.all_flags)

    @property
    def faults(self) -> dict[str, int]:
        return outcomes.faults(self.all_flags)

    @property
    def tests(self) -> list[dict]:
        return list((self.results or {}).get("tests") or [])

    @property
    def total(self) -> float | None:
        """The final score: after staff overrides and the late penalty."""
        if self.results is None:
            return None
        return round(self.final, 4) if self.final is not None else self.score

    @property
    def score(self) -> float:
        """The tests' points, staff overrides included, before the late penalty."""
        return round(sum(score for score, _ in self.problems().values()), 4)

    before_penalty = score  # the feedback template's older name

    @property
    def days_late(self) -> int:
        return self.late.days_late

    @property
    def late_penalty_pct(self) -> float:
        return self.late.penalty_pct

    @property
    def max_total(self) -> float | None:
        return None if self.results is None else float(self.results["max_score"])

    def problems(self) -> dict[str, tuple[float, float]]:
        """module -> (score, max_score) for the problems this run graded."""
        totals: dict[str, list[float]] = {}
        for test in self.tests:
            entry = totals.setdefault(module_of(test), [0.0, 0.0])
            entry[0] += test["score"]
            entry[1] += test["max_score"]
        return {m: (round(s, 4), round(x, 4)) for m, (s, x) in totals.items()}


def module_of(test: dict) -> str:
    return (test.get("tags") or [""])[0]


def load_class(results_dir: Path) -> list[StudentResult]:
    """Every RESULTS_DIR/STUDENT/ folder, by student name; an unreadable results.json is an error row."""
    students = []
    for folder in sorted(p for p in Path(results_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        path = folder / "results.json"
        try:
            students.append(StudentResult(folder.name, json.loads(path.read_text())))
        except FileNotFoundError:
            students.append(StudentResult(folder.name, None, "no results.json: the grader did not finish"))
        except (OSError, ValueError) as error:
            students.append(StudentResult(folder.name, None, f"unreadable results.json: {error}"))
    return students


GRADER_FAILED = "the grader could not grade this submission (staff: the gradebook's error column says why)"


def load_gradebook(path: Path) -> list[StudentResult]:
    """Every student in the gradebook: their tests with staff overrides applied (the override's
    reason shown first in the test's output) and the final score after the late penalty."""
    book = Gradebook(path)
    try:
        finals = book.final_scores()
        students = []
        for name in book.students():
            try:
                students.append(_from_gradebook(book, name, finals))
            except Exception as error:  # noqa: BLE001 (one unreadable row: that student is a grader error, the rest are reported)
                students.append(StudentResult(name, None, f"{GRADER_FAILED}; the gradebook's row cannot be read ({type(error).__name__})"))
        return students
    finally:
        book.close()


def _from_gradebook(book: Gradebook, name: str, finals: dict) -> StudentResult:
    row, results = book.submission(name), book.results(name)
    if row["status"] == GRADER_ERROR or results is None:
        return StudentResult(name, None, GRADER_FAILED, late=Late.of(row))
    written_marks.apply(results, written_marks.marks_of(book, name))  # staff's marks of the explanations
    overrides = {o["test_key"]: o for o in book.overrides(name)}
    for test in results["tests"]:
        override = overrides.get(test["extra_data"]["key"])
        if override is not None:
            _apply_override(test, override["points"], override["reason"])
    return StudentResult(name, results, final=finals[name]["final"], late=Late.of(row))


def _apply_override(test: dict, points: float, reason: str) -> None:
    note = f"Points set by the course staff: {points:g} / {test['max_score']:g} (the grader gave {test['score']:g}). {reason}"
    test["output"] = f"{note}\n\n{test.get('output') or ''}".rstrip()
    test["score"] = points
