"""`python -m grader regrade show|apply|discard`: review a regrade before it counts (trusted side)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader.staff import changeset, gradebook
from grader.staff.gradebook import Gradebook


def register(commands) -> None:
    parser = commands.add_parser(
        "regrade",
        help="show, apply or discard the pending regrade (the change set `grade` left for review)",
        description="Grading a submission again (grade --regrade STUDENT, --regrade-all, or after the suites, "
        "reference or rubric changed) does not replace its grade: the result waits in the gradebook as a change "
        "set. `show` lists per student and per problem what would change and which tests flipped (and why: the "
        "suite or grader version that differs); `apply` makes the pending results the grades (the old ones are "
        "kept in results_history; staff overrides and the late policy carry over); `discard` drops them. "
        "First grades and new submissions count at once.",
    )
    parser.add_argument("action", choices=("show", "apply", "discard"))
    parser.add_argument("students", nargs="*", metavar="STUDENT", help="only these students (default: all pending)")
    parser.add_argument("--gradebook", type=Path, default=gradebook.DEFAULT_PATH, help="(default: %(default)s)")
    parser.add_argument("--all", action="store_true", help="show: list students whose grade would not change too")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.gradebook.exists():
        raise SystemExit(f"no gradebook at {args.gradebook}")
    console = Console(highlight=False)
    book = Gradebook(args.gradebook)
    try:
        pending = {row["student"] for row in book.pending()}
        unknown = sorted(set(args.students) - pending)
        if unknown:
            console.print(f"[red]no pending regrade for {', '.join(unknown)}")
            return 2
        if args.action == "show":
            show(console, [c for c in changeset.changes(book) if not args.students or c.student in args.students], args.all)
            return 0
        act = changeset.apply if args.action == "apply" else changeset.discard
        done = act(book, args.students or None)
        console.print(f"{'applied' if args.action == 'apply' else 'discarded'} {len(done)} pending regrade(s)"
                      + (f": {', '.join(done)}" if done else ""))
        return 0
    finally:
        book.close()


def show(console: Console, changes: list[changeset.Change], everyone: bool) -> None:
    moving = [c for c in changes if c.changes]
    console.print(f"{len(changes)} pending regrade(s): {len(moving)} would change a grade, {len(changes) - len(moving)} would not")
    for change in changes if everyone else moving:
        console.print(f"\n[bold]{change.student}[/]: final {change.old_final:.4g} -> {change.new_final:.4g}   ({'; '.join(change.why)})")
        for module, ((old, top), (new, new_top)) in change.problems.items():
            console.print(f"  {module}: {old:g}/{top:g} -> {new:g}/{new_top:g}")
        for flip in change.flips:
            kept = f"  [staff override {flip.override:g} kept]" if flip.override is not None else ""
            console.print(f"    {flip.old} -> {flip.new}: {flip.key} ({flip.old_points:g} -> {flip.new_points:g} points){kept}")
    if changes:
        console.print("\npython -m grader regrade apply [STUDENT...]   or   python -m grader regrade discard [STUDENT...]")
