"""`python -m grader validate`: are the suites sound enough to release? (trusted side)"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader.commands import make_console
from grader.staff.qa import validate
from seam import MODULES


def register(commands) -> None:
    parser = commands.add_parser(
        "validate",
        help="check the suites before release: the reference earns everything, the stubs nothing, every mutant is caught",
        description="Run the public and hidden suites (pytest subprocesses, no sandbox: this is the course's "
        "own code) and report in one place: (1) the reference solutions/ earns 100% of the points; (2) the "
        "untouched stubs in assignment/ earn 0; (3) each mutant in tests/data/mutants/*.toml (the reference "
        "with one bug) loses points in its own problem and in no other (mutants run in parallel; CUDA-only "
        "ones are skipped, and said so, on a machine without CUDA). Exit 1 if any of these fails. "
        "--mutation adds a mutmut run (pip install 'mutmut>=3,<4'): it mutates a copy of the reference, runs "
        "the suites on each mutant against the untouched reference and reports the share killed and every "
        "survivor (file, line, before/after). It informs and does not change the exit status; it is slow "
        "(about 1.5 minutes for tensors on 2 cores, many minutes for all problems): scope it with --only.",
    )
    parser.add_argument(
        "--only", type=_modules, default=None, metavar="MODULES",
        help=f"comma-separated problems to check (default: all of {','.join(MODULES)})",
    )
    parser.add_argument("--mutation", action="store_true", help="also run mutmut over the reference (slow)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel runs (default: the machine's cores)")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="PATH",
        help="also write the report: PATH.md (markdown), PATH.json, or a folder (validate.md and validate.json)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    with console.status("running the suites on the reference, the stubs and the mutants ...") as status:
        report = validate.validate(args.only, workers=args.workers, mutation=args.mutation, progress=lambda m: status.update(m))
    _print(console, report)
    if args.out:
        for path in validate.write(report, args.out):
            console.print(f"wrote {path}")
    return 0 if report.ok else 1


def _modules(text: str) -> list[str]:
    modules = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modules if m not in MODULES]
    if unknown or not modules:
        raise argparse.ArgumentTypeError(f"unknown problem(s) {unknown}; choose from {','.join(MODULES)}")
    return modules


def _print(console: Console, report: validate.Report) -> None:
    for check in (report.reference, report.stubs):
        colour = "green" if check.ok else "red"
        console.print(f"[{colour}]{check.label}: {check.earned:g} / {check.max_score:g} points (must earn {check.expected})")
        for key in check.wrong:
            console.print(f"  [red]{key}", highlight=False)
    table = Table(title="mutants (each must lose points in its own problem only)")
    for column in ("mutant", "problem", "status", "points lost", "note"):
        table.add_column(column)
    colours = {"caught": "green", "skipped": "yellow"}
    for m in report.mutants:
        lost = ", ".join(f"{k} {v:g}" for k, v in sorted(m.lost.items())) or "none"
        table.add_row(m.name, m.module, f"[{colours.get(m.status, 'red')}]{m.status}", lost, m.note)
    console.print(table)
    if report.mutation is not None:
        _print_mutation(console, report.mutation)
    verdict = "[green bold]VALID" if report.ok else "[red bold]NOT VALID"
    console.print(f"{verdict}[/]: {', '.join(report.modules)}; seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))


def _print_mutation(console: Console, run) -> None:
    if run.error:
        console.print(f"[red]mutation run ({run.tool}) could not run: {run.error}", highlight=False)
        return
    console.print(f"mutation run ({run.tool}, {run.seconds:.0f} s): killed {run.killed} of {run.total} = [bold]{run.kill_rate:.1%}")
    table = Table(title="surviving mutants (the suites miss them, or they change nothing that matters)")
    for column in ("file", "line", "before", "after"):
        table.add_column(column)
    for s in run.survivors:
        table.add_row(s.file, str(s.line), s.before, s.after)
    console.print(table)
