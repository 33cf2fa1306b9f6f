"""`python -m grader override`: a staff member sets one test's points for one student."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.commands import make_console, with_gradebook
from grader.commands.show import show_student, warn_look_alikes
from grader.core.student_text import printable
from grader.core import integrity
from grader.staff.grading import gradebook


def register(commands) -> None:
    override = commands.add_parser(
        "override",
        help="set a student's points for one test in the gradebook (kept across regrades); with STUDENT alone, list their tests",
        description="Record that STUDENT gets POINTS for TEST_KEY (as the gradebook names it, e.g. "
        "hidden/test_tensors_hidden.py::test_bytes_match_torch), with who decided and why. Grading "
        "never writes overrides, so they survive --regrade; final scores use them. --clear removes one. "
        "With STUDENT alone: their tests, keys and points (as `python -m grader show STUDENT`). "
        "--release PROBLEM gives back the points a problem held for review earned (course.toml's "
        "[integrity] tamper = \"zero\"), one override per held test.",
    )
    override.add_argument("student", metavar="STUDENT")
    override.add_argument("test_key", nargs="?", metavar="TEST_KEY")
    override.add_argument("points", type=float, nargs="?", metavar="POINTS")
    override.add_argument("--reason", help="why (required unless --clear)")
    override.add_argument("--by", help="who decided (required unless --clear)")
    override.add_argument("--clear", action="store_true", help="remove this override instead")
    override.add_argument("--release", metavar="PROBLEM", help="after review: every test of PROBLEM held for review gets the points it earned")
    override.add_argument("--gradebook", type=Path, default=gradebook.DEFAULT_PATH, help="(default: %(default)s)")
    override.set_defaults(run=run)


@with_gradebook
def run(args: argparse.Namespace, console: Console, book) -> int:
    if args.release:
        return release(book, args, console)
    if args.test_key is None:
        return show_student(console, book, args.student, failed_only=False)
    name = printable(args.student)
    test = book.test(args.student, args.test_key)
    if test is None:
        keys = [t["test_key"] for t in book.tests(args.student)]
        hint = f"; its tests include: {', '.join(k for k in keys if args.test_key.split('::')[-1] in k) or ', '.join(keys[:5])}" if keys else ""
        raise SystemExit(f"the gradebook has no test {printable(args.test_key)!r} for '{name}'{hint}\n"
                         f"(list them: python -m grader override '{name}' --gradebook {args.gradebook})")
    warn_look_alikes(console, book, args.student)
    if args.clear:
        removed = book.clear_override(args.student, args.test_key)
        console.print("override removed" if removed else "there was no override", markup=False)
        return 0
    if args.points is None or not args.reason or not args.by:
        raise SystemExit("give POINTS, --reason and --by (or --clear)")
    if not 0 <= args.points <= test["max_points"]:
        raise SystemExit(f"POINTS must be between 0 and the test's {test['max_points']:g}")
    book.set_override(args.student, args.test_key, args.points, args.reason, args.by)
    final = book.final_scores()[args.student]
    console.print(Text(f"{name} {args.test_key}: {test['points']:g} -> {args.points:g} (by {args.by}: {args.reason}); "
                       f"score {final['score']:.4g}, final {final['final']:.4g}"))
    _next(console, book.path)
    return 0


def release(book, args: argparse.Namespace, console: Console | None = None) -> int:
    """A problem held for review (a tamper flag under [integrity] tamper = "zero"), reviewed: its
    tests get the points they earned, as overrides with who and why (--clear one to undo it)."""
    console = console or make_console()
    if not args.reason or not args.by:
        raise SystemExit("--release needs --reason and --by")
    data = book.results(args.student)
    held = integrity.held_points(data, args.release) if data else {}
    if not held:
        raise SystemExit(f"'{printable(args.student)}' has nothing held for review in {args.release!r}")
    warn_look_alikes(console, book, args.student)
    for key, points in held.items():
        book.set_override(args.student, key, points, args.reason, args.by)
    final = book.final_scores()[args.student]
    console.print(Text(f"{printable(args.student)} {args.release}: {sum(held.values()):g} points released over {len(held)} test(s) "
                       f"(by {args.by}: {args.reason}); final score {final['final']:.4g}"))
    _next(console, book.path)
    return 0


def _next(console: Console, gradebook_path) -> None:
    console.print(f"next: python -m grader report report/ --gradebook {gradebook_path}   (the pages show the staff's points and reason)",
                  markup=False)
