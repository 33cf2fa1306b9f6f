"""`python -m grader export FILE`: the gradebook as an LMS imports it (Canvas's gradebook CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.commands import with_gradebook
from grader.core.student_text import printable
from grader.staff.grading import gradebook
from grader.staff.report import lms_export


def register(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="write the grades as an LMS gradebook imports them (Canvas CSV: a row per student, the assignment, Notes)",
        description=lms_export.__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the CSV to write, e.g. grades-lms.csv")
    parser.add_argument("--gradebook", type=Path, default=gradebook.DEFAULT_PATH, help="(default: %(default)s)")
    parser.add_argument("--assignment", default="Assignment", help="the assignment column's name as the LMS has it, e.g. \"HW2 (1234)\" (default: %(default)s)")
    parser.add_argument("--roster", type=Path, help="the LMS's own gradebook export (CSV): its Student, ID, SIS and Section columns are copied")
    parser.add_argument("--match", default="SIS Login ID", help="the roster column holding the names grading uses (default: %(default)s)")
    parser.set_defaults(run=run)


@with_gradebook
def run(args: argparse.Namespace, console: Console, book) -> int:
    try:
        made = lms_export.export(book, args.assignment, args.roster, args.match)
    except (OSError, ValueError) as error:
        console.print(Text(str(error), style="red"))
        return 2
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text(made.text, encoding="utf-8")
    console.print(f"{made.rows} student(s) into {args.file} (assignment column {args.assignment!r}, Notes beside it)", markup=False)
    if made.unmatched:
        names = ", ".join(printable(s) for s in made.unmatched)
        console.print(Text(f"not in the roster, so not in the file: {names} (check --match, or add them to the LMS)", style="yellow"))
    console.print("next: import it into the LMS's gradebook (Canvas: Grades > Import). The same gradebook always gives "
                  "the same file: exporting and importing again changes nothing", markup=False)
    return 1 if made.unmatched else 0
