"""`python -m grader override`: a staff member sets one test's points for one student."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.core import integrity
from grader.staff import gradebook
from grader.staff.gradebook import Gradebook


def register(commands) -> None:
    override = commands.add_parser(
        "override",
        help="set a student's points for one test in the gradebook (kept across regrades)",
        description="Record that STUDENT gets POINTS for TEST_KEY (as the gradebook names it, e.g. "
        "hidden/test_tensors_hidden.py::test_bytes_match_torch), with who decided and why. Grading "
        "never writes overrides, so they survive --regrade; final scores use them. --clear removes one. "
        "--release PROBLEM gives back the points a problem held for review earned (course.toml's "
        "[integrity] tamper = \"zero\"), one override per held test.",
    )
    override.add_argument("student", metavar="STUDENT")
    override.add_argument("test_key", metavar="TEST_KEY", nargs="?")
    override.add_argument("points", type=float, nargs="?", metavar="POINTS")
    override.add_argument("--reason", help="why (required unless --clear)")
    override.add_argument("--by", help="who decided (required unless --clear)")
    override.add_argument("--clear", action="store_true", help="remove this override instead")
    override.add_argument("--release", metavar="PROBLEM", help="after review: every test of PROBLEM held for review gets the points it earned")
    override.add_argument("--gradebook", type=Path, default=gradebook.DEFAULT_PATH, help="(default: %(default)s)")
    override.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.gradebook.exists():
        raise SystemExit(f"no gradebook at {args.gradebook}")
    book = Gradebook(args.gradebook)
    try:
        if args.release:
            return release(book, args)
        if args.test_key is None:
            raise SystemExit("give TEST_KEY (or --release PROBLEM)")
        test = book.test(args.student, args.test_key)
        if test is None:
            keys = [t["test_key"] for t in book.tests(args.student)]
            hint = f"; its tests include: {', '.join(k for k in keys if args.test_key.split('::')[-1] in k) or ', '.join(keys[:5])}" if keys else ""
            raise SystemExit(f"the gradebook has no test {args.test_key!r} for {args.student!r}{hint}")
        if args.clear:
            removed = book.clear_override(args.student, args.test_key)
            print("override removed" if removed else "there was no override")
            return 0
        if args.points is None or not args.reason or not args.by:
            raise SystemExit("give POINTS, --reason and --by (or --clear)")
        if not 0 <= args.points <= test["max_points"]:
            raise SystemExit(f"POINTS must be between 0 and the test's {test['max_points']:g}")
        book.set_override(args.student, args.test_key, args.points, args.reason, args.by)
        final = book.final_scores()[args.student]
        print(f"{args.student} {args.test_key}: {test['points']:g} -> {args.points:g} (by {args.by}: {args.reason}); final score {final['final']:.4g}")
        return 0
    finally:
        book.close()


def release(book: Gradebook, args: argparse.Namespace) -> int:
    """A problem held for review (a tamper flag under [integrity] tamper = "zero"), reviewed: its
    tests get the points they earned, as overrides with who and why (--clear one to undo it)."""
    if not args.reason or not args.by:
        raise SystemExit("--release needs --reason and --by")
    data = book.results(args.student)
    held = integrity.held_points(data, args.release) if data else {}
    if not held:
        raise SystemExit(f"{args.student!r} has nothing held for review in {args.release!r}")
    for key, points in held.items():
        book.set_override(args.student, key, points, args.reason, args.by)
    final = book.final_scores()[args.student]
    print(f"{args.student} {args.release}: {sum(held.values()):g} points released over {len(held)} test(s) "
          f"(by {args.by}: {args.reason}); final score {final['final']:.4g}")
    return 0
