"""`python -m grader gradescope OUT`: Gradescope's autograder.zip (trusted side)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


from grader.commands import make_console
from grader.staff.course import config
from grader.staff.grading import gradescope


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
        "GRADER_ALLOW_WEAK. --test SUBMISSION then runs the zip on SUBMISSION as Gradescope would, in "
        "OUT/autograder-test/ with this machine's Python (no setup.sh), and prints the score.",
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
    parser.add_argument(
        "--test", type=Path, metavar="SUBMISSION",
        help="then run the zip on SUBMISSION (a folder, .zip or module files) as Gradescope would, in OUT/autograder-test/",
    )
    parser.add_argument("--only", metavar="MODULES", help="with --test: grade only these problems (comma-separated), e.g. tensors")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    archive = args.out if args.out.suffix == ".zip" else args.out / "autograder.zip"
    if args.config is not None:
        try:
            config.load(args.config)  # checked here, not on Gradescope
        except config.ConfigError as error:
            console.print(str(error), style="red", markup=False)
            return 2
    gradescope.build_autograder(archive, allow_weak=args.allow_weak_sandbox, course_file=args.config)
    console.print(f"wrote {archive}: upload it as the autograder of a Gradescope programming assignment", markup=False)
    if args.test is None:
        console.print(f"next: test it here first: python -m grader gradescope {args.out} --test examples/submissions/correct --only tensors",
                      markup=False)
        return 0
    if not args.test.exists():
        console.print(f"--test: no such submission {args.test}", style="red", markup=False)
        return 2
    only = [m.strip() for m in (args.only or "").split(",") if m.strip()]
    status, results_file = gradescope.test_locally(archive, args.test, only)
    if not results_file.is_file():
        console.print(f"run_autograder exited {status} and wrote no results.json: Gradescope would show an error", style="red", markup=False)
        return 1
    data = json.loads(results_file.read_text())
    console.print(f"run_autograder exited {status}; score {data.get('score', 0):g} / {data.get('max_score', 0):g} "
                  f"over {len(data.get('tests', []))} test(s); what Gradescope would show: {results_file}", markup=False)
    return 0 if status == 0 else 1
