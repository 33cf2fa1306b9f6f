"""`python -m grader report OUT`: grades.csv, per-student feedback and a class report (trusted side)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rich.text import Text

from grader.commands import make_console
from grader.core.student_text import printable
from grader.staff.course import hint_policy
from grader.staff.grading import gradebook
from grader.staff.report import class_results, class_summary, pages
from grader.staff.course.config import parse_time
from grader.staff.grading.outcomes import GRADED, GRADER_ERROR, UNREADABLE


def register(commands) -> None:
    parser = commands.add_parser(
        "report",
        help="write grades.csv (for the LMS), feedback per student and a class report from the gradebook",
        description="Read the gradebook `grade` wrote (staff overrides and the late penalty count), or with "
        "--results a folder of STUDENT/results.json files, and write into OUT: grades.csv (student, status: "
        "graded / unreadable / grader error, one column per problem, score after overrides, days_late, "
        "late_penalty_pct, final, where the time came from, the deadline and extension, faults of the code, "
        "integrity flags; `export` writes the LMS's own shape); feedback/STUDENT.md and .html (per "
        "problem: score, the tests passed and failed with their output; for public tests the smallest "
        "failing input, for hidden tests only their hint and the kind of failure); histogram.png and "
        "pass_rates.png; and report.md plus report.html, the class report (score histogram, pass rate "
        "and most common failure per problem, submissions flagged for integrity) as one self-contained "
        "page with the plots inlined.",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to write the report into (created if missing)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--gradebook", type=Path, default=gradebook.DEFAULT_PATH, metavar="GRADEBOOK",
        help="the SQLite gradebook (default: %(default)s, grade's default)",
    )
    source.add_argument(
        "--results", type=Path, metavar="RESULTS_DIR",
        help="read RESULTS_DIR/STUDENT/results.json files instead (e.g. downloaded from Gradescope): "
        "no overrides or late penalties there",
    )
    parser.add_argument(
        "--config", type=Path,
        help="course config (TOML): its [hints] table says where misconception hints show (show = \"public\" "
        "(default), \"all\" or \"never\"; hidden_after_deadline = true shows hidden tests' hints after [late] deadline)",
    )
    parser.add_argument(
        "--similarity", type=Path, metavar="HTML",
        help="the similarity report (`python -m grader similarity ... --out DIR` writes DIR/similarity.html) to link from the class report",
    )
    parser.set_defaults(run=run)


def _own_deadline(policy: hint_policy.HintPolicy, deadline: str | None) -> hint_policy.HintPolicy:
    """The hint policy with the student's own deadline where an extension moved it later: hidden
    tests' hints "after the deadline" never reach a student who may still be working."""
    if policy.deadline is None or not deadline:
        return policy
    return dataclasses.replace(policy, deadline=max(policy.deadline, parse_time(deadline)))


def run(args: argparse.Namespace) -> int:
    console = make_console()
    if args.results is not None:
        if not args.results.is_dir():
            console.print(f"[red]no results folder {args.results}: run `python -m grader grade --out {args.results} ...` first")
            return 2
        students, source = class_results.load_class(args.results), f"{args.results}/STUDENT/results.json"
    else:
        if not args.gradebook.is_file():
            console.print(f"no gradebook at {args.gradebook}: run `python -m grader grade` first, or pass --gradebook PATH or --results DIR",
                          style="red", markup=False)
            return 2
        students, source = class_results.load_gradebook(args.gradebook), str(args.gradebook)
    if not students:
        console.print(f"[red]{source} holds no graded student")
        return 2
    policy = hint_policy.load_policy(args.config)
    for student in students:  # the feedback shows only the hints the course lets students see
        if student.results is not None:
            student.extra["hints"] = hint_policy.resolved(student.extra.get("hints") or [])  # staff read them all
            student.extra["hints_shown"] = hint_policy.shown(student.results, _own_deadline(policy, student.late.deadline))
    if args.similarity is not None and not args.similarity.is_file():
        console.print(f"[red]--similarity: no file {args.similarity}: run `python -m grader similarity SUBMISSIONS --out DIR` first")
        return 2
    paths = pages.write_report(students, args.out, args.similarity)
    summary = class_summary.class_summary(students)
    counts = summary["counts"]
    console.print(
        f"{len(students)} students from {source} ({counts[GRADED]} graded, {counts[UNREADABLE]} unreadable, {counts[GRADER_ERROR]} grader error; "
        f"{len(summary['faulty'])} with faults of their code, {len({f['student'] for f in summary['flagged']})} with integrity flags)\n"
        f"grades:     {paths['csv']}\nfeedback:   {args.out / 'feedback'}/STUDENT.md and .html\n"
        f"class:      {paths['report_html']} (self-contained) and {paths['report_md']}",
        markup=False,
    )
    for student, why in paths["failed_pages"]:
        console.print(Text(f"{printable(student)}: feedback page not written: {printable(why)}", style="red"))
    if args.results is None:
        console.print(f"next: python -m grader export grades-lms.csv --gradebook {args.gradebook}   (the LMS's import shape)", markup=False)
    return 1 if paths["failed_pages"] else 0
