"""grades.csv: one row per student, what the LMS imports."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.core.student_text import printable
from grader.core.written import PART
from grader.staff.grading import outcomes
from grader.staff.written import written_marks
from grader.staff.report.class_results import CSV_COLUMNS, StudentResult
from seam import MODULES


def write_csv(students: list[StudentResult], path: Path) -> None:
    """One row per student (CSV_COLUMNS); a problem this run did not grade (or a missing result) is left blank."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for student in students:
            writer.writerow([csv_cell(str(value)) for value in csv_row(student).values()])


def csv_row(student: StudentResult) -> dict[str, object]:
    problems, late, graded = student.problems(), student.late, student.results is not None
    return {
        "student": student.student,
        "status": student.status,
        **{m: f"{problems[m][0]:g}" if m in problems else "" for m in MODULES},
        "written": f"{problems[PART][0]:g}" if PART in problems else "",
        "written_pending": f"{written_marks.pending_points(student.results):g}" if PART in problems else "",
        "score": f"{student.score:g}" if graded else "",
        "days_late": "" if late.time_unknown else late.days_late,
        "late_penalty_pct": f"{late.penalty_pct:g}",
        "final": "" if student.total is None else f"{student.total:g}",
        "time_source": late.time_source,
        "submitted_at": late.submitted_at or "",
        "deadline": late.deadline or "",
        "extension": late.extension,
        "faults": outcomes.faults_text(student.faults),
        "integrity_flags": outcomes.integrity_text(student.all_flags),
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Student-controlled text that a spreadsheet shows as text: never a formula (OWASP's CSV injection
    advice), never a character that hides or disguises a name (student_text.printable)."""
    text = printable(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
