"""Trusted side (staff tooling): the class's scores as the console shows them, from the gradebook.

    rows(book)           one Row per student: outcome, per-problem points after staff overrides,
                         the late policy's verdict, faults and integrity flags
    table(rows, width)   the score table (graded students) and one line per thing staff must see:
                         unreadable submissions, grader errors, faults of the code, integrity
                         flags, unknown submission times, extensions, names that look alike

The table fits `width` columns whatever the class: problems as P1..P8 and the written part as W
(a legend below), numbers only, and names cut to the room that is left (never folded a letter
per line); where that room is too small, W gives way first (its points stay in the score), then
the problems. A name that had to be cut, or one that looks like another, keeps its full escaped
form in the lines below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rich import box
from rich.table import Table
from rich.text import Text

from grader.core import integrity
from grader.core.student_text import distinct_names, look_alikes, printable, shorten
from grader.core.written import PART
from grader.staff.grading import outcomes
from grader.staff.grading.gradebook import Gradebook, Late
from grader.staff.grading.outcomes import GRADED, GRADER_ERROR, UNREADABLE
from seam import MODULES

MIN_NAME = 8  # narrower than this, the per-problem columns give way to the name


@dataclass
class Row:
    student: str
    status: str
    problems: dict[str, tuple[float, float]] = field(default_factory=dict)  # after staff overrides
    score: float = 0.0  # after staff overrides, before the late penalty
    final: float = 0.0
    late: Late = field(default_factory=Late)
    faults: dict[str, int] = field(default_factory=dict)
    flags: str = ""  # the integrity flags' kinds
    error: str = ""  # why unreadable, or what failed in the grader
    seconds: float = 0.0
    held: list[str] = field(default_factory=list)  # problems held at 0 for review ([integrity] tamper = "zero"), not yet released


def rows(book: Gradebook, students: list[str] | None = None) -> list[Row]:
    finals = book.final_scores()
    found = []
    for student in students if students is not None else book.students():
        row = book.submission(student)
        if row is None:
            continue
        final = finals.get(student)
        found.append(Row(
            student=student, status=row["status"], problems=book.problem_scores(student),
            score=final["score"] if final else 0.0, final=final["final"] if final else 0.0, late=Late.of(row),
            faults=json.loads(row["faults"] or "{}"), flags=outcomes.integrity_text(json.loads(row["integrity_flags"] or "[]")),
            error=row["error"] or "", seconds=row["seconds"], held=still_held(book, student),
        ))
    return found


def still_held(book: Gradebook, student: str) -> list[str]:
    """The problems of `student` held for review that staff have not released yet (a release writes overrides for them all)."""
    data = book.results(student) or {}
    held = (data.get("extra_data") or {}).get("held_for_review") or []
    overridden = {o["test_key"] for o in book.overrides(student)} if held else set()
    return [p for p in held if not set(integrity.held_points(data, p)) <= overridden]


def label(part: str) -> str:
    """A score column's head: P1..P8 for the problems, W for the written part."""
    return "W" if part == PART else f"P{MODULES.index(part) + 1}"


def late_column(row: Row) -> str:
    """The late policy's verdict in a few characters: "-20%", "" (on time), "?" (time unknown)."""
    late = row.late
    if late.time_unknown and late.deadline:
        return "?"
    return f"-{late.penalty_pct:g}%" if late.penalty_pct else ""


def table(found: list[Row], width: int) -> list:
    """The score table and its notes, `width` columns wide at most."""
    shown = distinct_names([r.student for r in found])
    graded = [r for r in found if r.status == GRADED]
    notes = _notes(found, shown)
    if not graded:
        return notes
    modules = [m for m in (*MODULES, PART) if any(m in r.problems for r in graded)]
    with_late = any(r.late.deadline for r in graded)
    columns = _columns(graded, modules, with_late)
    name_width = width - sum(w for _, w, _ in columns) - len(columns)  # one space between columns
    for gives_way in ("W", "P"):  # too narrow: W first (in the score anyway), then the problems (`show STUDENT` has them)
        if name_width < MIN_NAME:
            columns = [c for c in columns if not c[0].startswith(gives_way)]
            name_width = width - sum(w for _, w, _ in columns) - len(columns)
    names = _cut(graded, shown, max(MIN_NAME, name_width))
    grid = Table(title="Scores", box=box.SIMPLE_HEAD, padding=0, show_edge=False, title_justify="left")
    grid.add_column("student", no_wrap=True, overflow="crop", width=max(len(n) for n in [*names.values(), "student"]))
    for header, cell_width, _ in columns:
        grid.add_column(header, justify="right", no_wrap=True, width=cell_width)
    for row in graded:
        grid.add_row(Text(names[row.student]), *(cell(row) for _, _, cell in columns))
    shown_columns = {c[0] for c in columns}
    legend = "  ".join(f"{label(m)} {m} /{_maximum(graded, m):g}" + ("" if label(m) in shown_columns else " (in the score)") for m in modules)
    legend += "   score: after staff overrides"
    if with_late:
        legend += "; late: the late policy's penalty (? time unknown: none taken); final: score less it"
    cut = [r for r in graded if names[r.student] != shown[r.student]]
    if cut:
        notes.insert(0, _note("names cut to fit", "in full", ", ".join(shown[r.student] for r in cut), "dim"))
    return [grid, Text(legend, style="dim"), *notes]


def _columns(graded: list[Row], modules: list[str], with_late: bool) -> list[tuple[str, int, object]]:
    """(header, width, row -> cell text) for every column but the name."""
    def problem(module):
        return lambda r: f"{r.problems[module][0]:g}" if module in r.problems else "-"

    cells = [(label(m), problem(m)) for m in modules]
    cells.append(("score", lambda r: f"{r.score:.4g}"))
    if with_late:
        cells.append(("late", late_column))
        cells.append(("final", lambda r: f"{r.final:.4g}"))
    return [(header, max(len(header), *(len(render(r)) for r in graded)), render) for header, render in cells]


def _maximum(graded: list[Row], module: str) -> float:
    return max(r.problems[module][1] for r in graded if module in r.problems)


def _cut(graded: list[Row], shown: dict[str, str], width: int) -> dict[str, str]:
    """Each name in at most `width` characters, two names never cut to the same text."""
    names, taken = {}, set()
    for row in graded:
        text = shorten(shown[row.student], width)
        number = 1
        while text in taken:
            number += 1
            text = shorten(shown[row.student], width - len(str(number)) - 1) + f"#{number}"
        taken.add(text)
        names[row.student] = text
    return names


def _notes(found: list[Row], shown: dict[str, str]) -> list[Text]:
    notes = []
    for row in found:
        name = shown[row.student]
        if row.status == UNREADABLE:
            notes.append(_note(name, "unreadable (0 points)", printable(row.error), "yellow"))
        elif row.status == GRADER_ERROR:
            notes.append(_note(name, "grader error, not a grade (run again to retry)", printable(error_summary(row.error)), "red"))
            continue
        if row.faults:
            notes.append(_note(name, "faults of the code", outcomes.faults_text(row.faults), "cyan"))
        if row.flags:
            notes.append(_note(name, "integrity flags", printable(row.flags), "magenta"))
        if row.late.extension:
            notes.append(_note(name, "extension", printable(f"{row.late.extension} (deadline {row.late.deadline})"), "green"))
        if row.held:  # course.toml's [integrity] tamper = "zero": 0 until staff release it
            notes.append(_note(name, "held for review (tamper)",
                               f"{', '.join(row.held)}: python -m grader override '{name}' --release PROBLEM", "magenta"))
    unknown = [shown[r.student] for r in found if r.late.time_unknown and r.late.deadline and r.status == GRADED]
    if unknown:
        notes.append(_note(
            "time unknown", "no late penalty taken; give their times in a staff file ([submissions] times) or the LMS export",
            ", ".join(unknown), "yellow",
        ))
    for group in look_alikes([r.student for r in found]):
        notes.append(_note("names that look alike", "check which student you mean", ", ".join(shown[n] for n in group), "yellow"))
    return notes


def _note(name: str, what: str, detail: str, style: str) -> Text:
    """One line for staff; `name` and `detail` already neutralised (printable)."""
    return Text.assemble((shorten(name, 80), "bold"), (f": {what}: ", style), shorten(detail, 300))


def error_summary(error: str) -> str:
    """The line of a grader failure's traceback that says what failed: the sandbox's own message
    (with the zygote's last words after it) where there is one, else the last line."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()] or ["unknown error"]
    sandbox = next((i for i, line in enumerate(lines) if "SandboxUnavailable: " in line), None)
    if sandbox is None:
        return lines[-1]
    message = lines[sandbox].split("SandboxUnavailable: ", 1)[1]
    return f"{message} {lines[-1]}" if sandbox < len(lines) - 1 else message
