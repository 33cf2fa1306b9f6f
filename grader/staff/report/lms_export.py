"""Trusted side (staff tooling): the gradebook in the shape an LMS gradebook imports (Canvas's CSV).

    Student, ID, SIS User ID, SIS Login ID, Section, <assignment>, Notes
    Points Possible, , , , , <max score>,
    one row per student ...

Canvas matches a row to a student by ID (or SIS User ID / SIS Login ID) and the assignment by its
column's name (`Name (id)` once Canvas has the assignment). With `--roster` (the LMS's own
gradebook export), those columns are copied from the roster row whose `--match` column holds the
student's name as grading knows it (the folder's name); without it, the name goes into Student
and SIS Login ID. The score is the gradebook's final (after staff overrides and the late penalty);
an unreadable submission is 0; a grader error is left blank, so an import changes nothing for
that student. Notes says what a grader of the class must know (late, time unknown, unreadable,
not graded). Safe to import again: the same gradebook gives the same bytes, and no cell is ever
a formula.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from grader.staff.grading.gradebook import Gradebook, Late
from grader.staff.grading.outcomes import GRADER_ERROR, UNREADABLE
from grader.staff.report.grades_csv import csv_cell

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
NOTES = "Notes"


@dataclass(frozen=True)
class Export:
    text: str  # the CSV
    rows: int
    unmatched: list[str]  # graded students the roster does not hold (not in the file: the LMS would not know them)


def export(book: Gradebook, assignment: str, roster: Path | None = None, match: str = "SIS Login ID") -> Export:
    identities, unmatched = _identities(book.students(), roster, match)
    finals = book.final_scores()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*IDENTITY, assignment, NOTES])
    maximum = max((finals[s]["max_score"] for s in finals), default=0.0)
    writer.writerow(["Points Possible", "", "", "", "", f"{maximum:g}", ""])
    rows = 0
    for student, identity in identities.items():
        row = book.submission(student)
        final = finals[student]
        score = "" if row["status"] == GRADER_ERROR else f"{round(final['final'], 2):g}"
        writer.writerow([*(csv_cell(identity.get(column, "")) for column in IDENTITY), score, csv_cell(notes(row))])
        rows += 1
    return Export(buffer.getvalue(), rows, unmatched)


def notes(row) -> str:
    """What staff should know beside the number, in a few words."""
    late = Late.of(row)
    said = []
    if row["status"] == GRADER_ERROR:
        said.append("not graded (grader error): run grade again")
    elif row["status"] == UNREADABLE:
        said.append(f"unreadable: {row['error']}"[:200])
    if late.penalty_pct:
        said.append(f"{late.days_late} day(s) late: -{late.penalty_pct:g}%")
    elif late.time_unknown and late.deadline and row["status"] not in (GRADER_ERROR, UNREADABLE):
        said.append("submission time unknown: no late penalty taken")
    if late.extension:
        said.append(f"extension: {late.extension}")
    return "; ".join(said)


def _identities(students: list[str], roster: Path | None, match: str) -> tuple[dict[str, dict], list[str]]:
    if roster is None:
        return {s: {"Student": s, "SIS Login ID": s} for s in students}, []
    with open(roster, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if match not in (reader.fieldnames or ()):
            raise ValueError(f"{roster}: no column {match!r} to match students by (it has: {', '.join(reader.fieldnames or ())})")
        by_name = {row[match].strip(): row for row in reader if row.get(match, "").strip() and row.get("Student") != "Points Possible"}
    found = {s: by_name[s] for s in students if s in by_name}
    return found, [s for s in students if s not in by_name]
