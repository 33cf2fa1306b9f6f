"""`python -m grader gradescope OUT`: Gradescope's autograder.zip (trusted side)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from grader.staff import config, gradescope


def register(commands) -> None:
    parser = commands.add_parser(
        "gradescope",
        help="build autograder.zip for Gradescope: the same sandboxed grading of /autograder/submission",
        description="Write OUT/autograder.zip (or OUT itself if it ends in .zip) to upload as a Gradescope "
        "programming assignment's autograder. It holds setup.sh (installs Python, util-linux for the "
        "sandbox's namespaces, the CPU build of PyTorch and our dependencies into /autograder/venv), "
        "run_autograder (grades /autograder/submission with `grade_one`, the same sandbox as "
        "`python -m grader grade`, and writes /autograder/results/results.json), the grader, the public "
        "and hidden suites, the drivers and oracles, the rubric and the reference. Students upload their "
        "assignment/ folder, a .zip of it, or its module files. run_autograder reads AUTOGRADER_ROOT "
        "(default /autograder), AUTOGRADER_PYTHON, GRADER_ONLY (comma-separated problems) and "
        "GRADER_ALLOW_WEAK.",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="a folder (autograder.zip is written in it) or a .zip path")
    parser.add_argument(
        "--allow-weak-sandbox",
        action="store_true",
        help="grade even where Gradescope's container allows no namespaces (rlimits and an audit hook only); "
        "without it such a container scores 0 and says why",
    )
    parser.add_argument(
        "--config", type=Path,
        help="course.toml, shipped inside: its [course] term draws the written part's numbers (give `release` the same file)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    archive = args.out if args.out.suffix == ".zip" else args.out / "autograder.zip"
    if args.config is not None:
        try:
            config.load(args.config)  # checked here, not on Gradescope
        except config.ConfigError as error:
            Console().print(str(error), style="red", markup=False)
            return 2
    gradescope.build_autograder(archive, allow_weak=args.allow_weak_sandbox, course_file=args.config)
    Console().print(f"[green]wrote {archive}[/]: upload it as the autograder of a Gradescope programming assignment")
    return 0
