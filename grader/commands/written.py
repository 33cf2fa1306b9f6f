"""`python -m grader written ...`: the written part, for staff (trusted side).

    written unmarked                      the explanations that await a mark (pending, or stale)
    written page OUT [--question Q]       OUT/written.html and .md: each question across the class, to mark from
    written mark STUDENT QUESTION POINTS --by NAME [--comment TEXT]   a mark (--clear removes it)
    written key STUDENT [--config course.toml]   a student's questions with the exact answers (staff only)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.staff.course import config
from grader.staff.grading import gradebook
from grader.staff.written import written_marks, written_page
from grader.staff.grading.gradebook import Gradebook
from grader.core.student_text import printable
from student import questions


def register(commands) -> None:
    parser = commands.add_parser(
        "written",
        help="the written part: what awaits marking, the marking page, marks, a student's answer key",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    unmarked = actions.add_parser("unmarked", help="list the explanations awaiting a mark")
    page = actions.add_parser("page", help="write the marking page (HTML and Markdown) into OUT")
    page.add_argument("out", type=Path, metavar="OUT")
    page.add_argument("--question", choices=list(questions.EXPLAIN), help="one question only")
    mark = actions.add_parser("mark", help="give STUDENT's answer to QUESTION its points (counted for this text only)")
    mark.add_argument("student", metavar="STUDENT")
    mark.add_argument("question", choices=list(questions.EXPLAIN), metavar="QUESTION")
    mark.add_argument("points", type=float, nargs="?", metavar="POINTS")
    mark.add_argument("--by", help="who marked (required unless --clear)")
    mark.add_argument("--comment", default="", help="shown to the student in their feedback")
    mark.add_argument("--clear", action="store_true", help="remove the mark instead")
    key = actions.add_parser("key", help="a student's napkin questions and their exact answers (for staff only)")
    key.add_argument("student", metavar="STUDENT")
    key.add_argument("--config", type=Path, help="course.toml: its [course] term draws the numbers (as `grade --config` does)")
    for action in (unmarked, page, mark):
        action.add_argument("--gradebook", type=Path, default=gradebook.DEFAULT_PATH, help="(default: %(default)s)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "key":
        return show_key(args)
    if not args.gradebook.is_file():
        raise SystemExit(f"no gradebook at {args.gradebook}: run `python -m grader grade` first")
    book = Gradebook(args.gradebook)
    try:
        return {"unmarked": list_unmarked, "page": write_page, "mark": set_mark}[args.action](book, args)
    finally:
        book.close()


def list_unmarked(book: Gradebook, args: argparse.Namespace) -> int:
    waiting = written_page.unmarked(book)
    for answer in waiting:
        print(f"{printable(answer.student)}\t{answer.question}\t{answer.max_points:g} points\t{answer.state}")
    print(f"{len(waiting)} explanation(s) await marking" + (f": python -m grader written page DIR --gradebook {book.path}" if waiting else ""))
    return 0


def write_page(book: Gradebook, args: argparse.Namespace) -> int:
    paths = written_page.write(book, args.out, args.question)
    print(f"marking page: {paths['html']} (and {paths['md']}); mark with: python -m grader written mark STUDENT QUESTION POINTS --by NAME")
    return 0


def set_mark(book: Gradebook, args: argparse.Namespace) -> int:
    found = [a for a in written_marks.answers(book, [args.student]) if a.question == args.question] if book.submission(args.student) else []
    if not found:
        raise SystemExit(f"the gradebook has no graded written part for {args.student!r}")
    answer = found[0]
    if args.clear:
        print("mark removed" if written_marks.clear_mark(book, args.student, answer.test_key) else "there was no mark")
        return 0
    if answer.state == "unanswered":
        raise SystemExit(f"{args.student} did not answer {args.question}: 0 points, nothing to mark")
    if args.points is None or not args.by:
        raise SystemExit("give POINTS and --by NAME (or --clear)")
    if not 0 <= args.points <= answer.max_points:
        raise SystemExit(f"POINTS must be between 0 and the question's {answer.max_points:g}")
    written_marks.set_mark(book, answer, args.points, args.by, args.comment)
    left = len(written_page.unmarked(book))
    print(f"{args.student} {args.question}: {args.points:g} / {answer.max_points:g} (by {args.by}); "
          f"final score {book.final_scores()[args.student]['final']:.4g}; {left} explanation(s) left to mark")
    return 0


def show_key(args: argparse.Namespace) -> int:
    from grader.core.written_key import expected

    try:
        term = config.load(args.config).term
    except config.ConfigError as error:
        raise SystemExit(str(error)) from None
    print(questions.render(args.student, term))
    print("\nExact answers (staff only):")
    for name, value in expected(questions.draw(args.student, term)).items():
        print(f"  {name} = {value:.6g}")
    return 0
