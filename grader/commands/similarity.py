"""`python -m grader similarity SUBMISSIONS... --out DIR`: pairs of submissions that look copied (trusted side)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.commands import make_console
from grader.core.student_text import distinct_names

from grader.staff.similarity import similarity, similarity_report


def register(commands) -> None:
    parser = commands.add_parser(
        "similarity",
        help="rank pairs of submissions by similarity, per module, and write an HTML report",
        description="Read each submission's assignment/*.py (a folder or .zip per student, or a folder of them; "
        "code is parsed, never run), turn each module into a stream of AST node types (names, literals, "
        "comments and layout do not count), hash its k-grams and winnow them, drop the stubs' fingerprints "
        "and those most of the class shares, and count the fingerprints each pair shares through an index "
        "(a sparse matrix product). Writes OUT/similarity.html (clusters, the top pairs, their modules side "
        "by side with the matching lines marked) and OUT/pairs.csv (every pair and module with a shared "
        "fingerprint).",
    )
    parser.add_argument("submissions", type=Path, nargs="+", metavar="SUBMISSION", help="a submission, or a folder of them")
    parser.add_argument(
        "--reference-term", type=Path, nargs="+", default=[], metavar="DIR",
        help="earlier terms' submissions: compared with this term's, not with each other",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for similarity.html and pairs.csv")
    parser.add_argument("--top", type=int, default=20, help="pairs shown side by side (default: %(default)s)")
    parser.add_argument(
        "--threshold", type=float, default=0.5,
        help="similarity at which two submissions are linked into a cluster (default: %(default)s)",
    )
    parser.add_argument(
        "--common-share", type=float, default=similarity.COMMON_SHARE,
        help="ignore fingerprints found in more than this share of the class (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    started = time.monotonic()
    missing = [p for p in [*args.submissions, *args.reference_term] if not p.exists()]
    if missing:
        console.print(f"[red]no such submission or folder: {', '.join(map(str, missing))}")
        return 2
    submissions = similarity.load_class(args.submissions, args.reference_term)
    if sum(not s.reference for s in submissions) < 2:
        console.print("[red]fewer than two submissions to compare")
        return 2
    pairs = similarity.compare(submissions, args.common_share)
    page = similarity_report.write_report(submissions, pairs, args.out, args.top, args.threshold)
    shown = distinct_names([s.name for s in submissions])
    _print_top(console, submissions, pairs, min(args.top, 10), shown)
    for submission in submissions:
        if submission.not_compared:
            console.print(Text(f"{shown[submission.name]}: not compared in part: {'; '.join(submission.not_compared)}", style="yellow"))
    console.print(f"{len(submissions)} submissions, {len(pairs)} pairs of modules with shared fingerprints, "
                  f"{time.monotonic() - started:.1f} s\nreport: {page}\npairs:  {args.out / 'pairs.csv'}", markup=False)
    console.print(f"next: open {page}; link it from the class report with `python -m grader report report/ --similarity {page}`", markup=False)
    return 0


def _print_top(console: Console, submissions, pairs, count: int, shown: dict[str, str]) -> None:
    table = Table("a", "b", "module", "similarity", title="most similar pairs")
    best = sorted(similarity.pair_scores(pairs).values(), key=lambda p: -p.similarity)[:count]
    for pair in best:
        table.add_row(Text(shown[submissions[pair.a].name]), Text(shown[submissions[pair.b].name]), pair.module, f"{pair.similarity:.0%}")
    console.print(table)
