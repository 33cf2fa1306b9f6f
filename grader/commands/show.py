"""`python -m grader show [STUDENT]`: the class's scores, or one student's tests, from the gradebook."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.commands import with_gradebook
from grader.core.student_text import distinct_names, look_alikes, printable
from grader.staff.grading import gradebook, scores
from grader.staff.grading.gradebook import Gradebook


def register(commands) -> None:
    parser = commands.add_parser(
        "show",
        help="the class's score table, or one student's tests with their keys and points (for `override`)",
        description="With no STUDENT: the score table `grade` prints, from the gradebook (after staff overrides and "
        "the late policy), with the notes under it (unreadable submissions, grader errors, faults of the code, "
        "integrity flags, unknown submission times, extensions). With STUDENT: each of their tests, problem by "
        "problem, with the key `override` takes, the points (the staff's where an override holds) and the outcome.",
    )
    parser.add_argument("student", nargs="?", metavar="STUDENT")
    parser.add_argument("--gradebook", type=Path, default=gradebook.DEFAULT_PATH, help="(default: %(default)s)")
    parser.add_argument("--failed", action="store_true", help="STUDENT: only the tests that lost points")
    parser.set_defaults(run=run)


@with_gradebook
def run(args: argparse.Namespace, console: Console, book: Gradebook) -> int:
    if args.student is not None:
        return show_student(console, book, args.student, args.failed)
    for part in scores.table(scores.rows(book), console.width):
        console.print(part)
    console.print(f"next: python -m grader show STUDENT --gradebook {book.path}   (a student's tests, with the keys `override` takes)", markup=False)
    return 0


def show_student(console: Console, book: Gradebook, student: str, failed_only: bool) -> int:
    if book.submission(student) is None:
        near = [s for s in book.students() if s.lower().startswith(student.lower()[:3])][:5]
        console.print(Text(f"the gradebook has no student '{printable(student)}'" + (f"; did you mean {', '.join(map(printable, near))}?" if near else ""), style="red"))
        return 2
    warn_look_alikes(console, book, student)
    row = scores.rows(book, [student])[0]
    overrides = {o["test_key"]: o for o in book.overrides(student)}
    console.print(Text(f"{printable(student)}: {row.status}, score {row.score:.4g} after overrides, final {row.final:.4g}"
                       + (f" ({scores.late_column(row)} late)" if scores.late_column(row) else "")))
    module = None
    for test in book.tests(student):
        if failed_only and test["points"] >= test["max_points"] and test["test_key"] not in overrides:
            continue
        if test["module"] != module:
            module = test["module"]
            console.print(Text(f"{module}: {row.problems[module][0]:g}/{row.problems[module][1]:g}", style="bold"))
        override = overrides.get(test["test_key"])
        points = f"{override['points']:g}/{test['max_points']:g}*" if override else f"{test['points']:g}/{test['max_points']:g}"
        # One line per test, the key last and whole: it is what `override` takes.
        console.print(Text(f"  {points:>10} {test['status']:<7} {test['test_key']}"), soft_wrap=True)
    if overrides:
        console.print("* a staff override (python -m grader override STUDENT KEY --clear removes it)", markup=False)
    console.print(f"next: python -m grader override '{printable(student)}' KEY POINTS --reason \"...\" --by \"...\" --gradebook {book.path}", markup=False)
    return 0


def warn_look_alikes(console: Console, book: Gradebook, student: str) -> None:
    """Two students whose names look the same on a screen: say which one this is, escaped."""
    for group in look_alikes(book.students()):
        if student in group:
            shown = distinct_names(book.students())
            others = ", ".join(shown[s] for s in group if s != student)
            console.print(Text(f"note: '{shown[student]}' looks like {others}: this is '{shown[student]}'", style="yellow"))
