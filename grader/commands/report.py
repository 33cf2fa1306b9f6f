"""`python -m grader report OUT`: grades.csv, per-student feedback and a class report (trusted side)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader import report


def register(commands) -> None:
    parser = commands.add_parser(
        "report",
        help="write grades.csv (for the LMS), feedback per student and a class report from graded results",
        description="Read RESULTS_DIR/STUDENT/results.json (what `grade --out RESULTS_DIR` writes) and write, "
        "into OUT: grades.csv (student, total, one column per problem, status: graded / error / flagged) "
        "for an LMS to import; feedback/STUDENT.md and .html (per problem: score, the tests passed and "
        "failed with their output; for public tests the smallest failing input, for hidden tests only "
        "their hint and the kind of failure); histogram.png and pass_rates.png; and report.md plus "
        "report.html, the class report (score histogram, pass rate and most common failure per problem, "
        "submissions flagged for integrity) as one self-contained page with the plots inlined.",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to write the report into (created if missing)")
    parser.add_argument(
        "--results", type=Path, default=Path("grading-results"), metavar="RESULTS_DIR",
        help="folder of STUDENT/results.json files (default: %(default)s, grade's default --out)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if not args.results.is_dir():
        console.print(f"[red]no results folder {args.results}: run `python -m grader grade --out {args.results} ...` first")
        return 2
    students = report.load_class(args.results)
    if not students:
        console.print(f"[red]{args.results} holds no STUDENT/results.json")
        return 2
    paths = report.write_report(students, args.out)
    counts = report.class_summary(students)["counts"]
    console.print(
        f"{len(students)} students ({counts['graded']} graded, {counts['flagged']} flagged, {counts['error']} error)\n"
        f"LMS grades: {paths['csv']}\nfeedback:   {args.out / 'feedback'}/STUDENT.md and .html\n"
        f"class:      {paths['report_html']} (self-contained) and {paths['report_md']}"
    )
    return 0
