"""`python -m grader regrade show|apply|discard`: review a regrade before it counts (trusted side)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.commands import with_gradebook
from grader.core.student_text import distinct_names, printable
from grader.staff.grading import changeset, gradebook


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


@with_gradebook
def run(args: argparse.Namespace, console: Console, book) -> int:
    pending = {row["student"] for row in book.pending()}
    shown = distinct_names(book.students())
    unknown = sorted(set(args.students) - pending)
    if unknown:
        console.print(Text(f"no pending regrade for {', '.join(printable(s) for s in unknown)}", style="red"))
        return 2
    if args.action == "show":
        changes, broken = changeset.changes(book, args.students or None)
        show(console, changes, args.all, shown)
        for student, why in broken:  # one student's unreadable change set stops no one else's
            console.print(Text(f"{shown.get(student, printable(student))}: the pending regrade cannot be shown: {printable(why)}", style="red"))
        return 1 if broken else 0
    act = changeset.apply if args.action == "apply" else changeset.discard
    done = act(book, args.students or None)
    console.print(Text(f"{'applied' if args.action == 'apply' else 'discarded'} {len(done)} pending regrade(s)"
                       + (f": {', '.join(shown.get(s, printable(s)) for s in done)}" if done else "")))
    console.print(f"next: python -m grader report report/ --gradebook {args.gradebook}", markup=False)
    return 0


def show(console: Console, changes: list[changeset.Change], everyone: bool, shown: dict[str, str]) -> None:
    """Every line is Text: a student's name (any characters) is never read as markup."""
    moving = [c for c in changes if c.changes]
    console.print(f"{len(changes)} pending regrade(s): {len(moving)} would change a grade, {len(changes) - len(moving)} would not")
    for change in changes if everyone else moving:
        console.print()
        console.print(Text.assemble((shown.get(change.student, printable(change.student)), "bold"),
                                    f": final {change.old_final:.4g} -> {change.new_final:.4g}   ({'; '.join(change.why)})"))
        for module, ((old, top), (new, new_top)) in change.problems.items():
            console.print(Text(f"  {module}: {old:g}/{top:g} -> {new:g}/{new_top:g}"))
        for flip in change.flips:
            kept = f"  [staff override {flip.override:g} kept]" if flip.override is not None else ""
            # soft_wrap: a test key is never folded in two (it is what `override` takes)
            console.print(Text(f"    {flip.old} -> {flip.new}: {printable(flip.key)} ({flip.old_points:g} -> {flip.new_points:g} points){kept}"),
                          soft_wrap=True)
    if changes:
        console.print("\nnext: python -m grader regrade apply [STUDENT...]   or   python -m grader regrade discard [STUDENT...]", markup=False)
