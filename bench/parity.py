"""Does the grading service write what the per-process grader writes? Each bundled example
(examples/submissions/, every problem) and each hostile variant (tests/data/hostile.toml, on the
problems it can touch) is graded twice: by `python -m grader.core.grade` in a fresh process
(grade_in_subprocess) and through one grading service (grader/core/service.py); then both
results files (results.json and results.staff.json) are compared.

    python bench/parity.py [--only NAME[,NAME]] [--examples-only | --hostile-only] [--jobs N] [--keep DIR] [--allow-weak-sandbox]

One row per submission: its problems, its score each way, and "yes" where both files agree but
for what differs from run to run whatever the submission (results.without_run_details: durations,
addresses, the hint seed, where the staff log's tail starts). Where they differ, the submission
is graded per-process up to twice more: "varies: PATH" where every differing key path (list
positions aside) differs between per-process grades too (the submission's own doing: what it
draws from os.urandom, its timings in a test's message, a race against a time limit), else
"no: PATH", the first path at which only the service differs. Exits 1 on any "no" or a failed
grade. --keep DIR keeps the files (DIR/NAME/alone, served, again1, again2).

The examples get the default limits (what `python -m grader grade` gives them); the hostile
variants tests/project/test_sandbox.py's short ones, with the variant's own memory and scratch.
Both sides draw the same hint sample (GRADER_HINT_SEED), so the hints are compared too.
--jobs N grades N submissions at a time (each still graded one way, then the other): 2 is fine
on 2 cores, but a variant that runs into a time limit then races the other grade for the CPU.
Not a test: the full set took 31 minutes on a quiet 2-core box with --jobs 1 (README, "Measured").
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.core import results, variants  # noqa: E402
from grader.core.limits import Limits  # noqa: E402
from grader.core.service import GradingService  # noqa: E402
from grader.staff.grading.executors import grade_in_subprocess  # noqa: E402
from seam import REPO_ROOT  # noqa: E402

EXAMPLES = ("correct", "partial", "crashing", "cheating")
EXAMPLE_LIMITS = Limits()  # what a batch grades with unless course.toml says otherwise
HOSTILE_LIMITS = Limits(call_seconds=8, test_seconds=30, submission_seconds=300)  # as test_sandbox.py: hangs cost seconds


def submissions(args, scratch: Path) -> list[tuple[str, Path, list[str] | None, Limits]]:
    """(name, folder, problems or None for all, limits) for each submission to grade."""
    wanted = set(args.only.split(",")) if args.only else None
    found = []
    if not args.hostile_only:
        found += [(name, REPO_ROOT / "examples" / "submissions" / name, None, EXAMPLE_LIMITS) for name in EXAMPLES if wanted is None or name in wanted]
    if not args.examples_only:
        found += [
            (v.name, v.build(scratch / "hostile" / v.name), variants.affected_problems(v), variants.limits_for(v, HOSTILE_LIMITS))
            for v in variants.load_hostile() if wanted is None or v.name in wanted
        ]
    unknown = (wanted or set()) - {name for name, *_ in found}
    if unknown:
        raise SystemExit(f"no such submission in the chosen set: {', '.join(sorted(unknown))}")
    return found


def compare(service: GradingService, name: str, folder: Path, problems, limits: Limits, allow_weak: bool, out: Path) -> tuple[str, str]:
    """Grade one submission both ways: its table row, and "yes", "varies", "no" or "error".

    Where the files differ, up to two more per-process grades are the control: a difference at a
    key path (list positions aside: tests[*].score) where per-process grades differ among
    themselves too is the submission's own doing (what it draws from os.urandom, its timings in a
    test's message, a race against a time limit), not the service's; "no" means a path differs
    where the per-process grader agreed with itself."""
    alone, served = out / name / "alone" / "results.json", out / name / "served" / "results.json"
    outcomes = (grade_in_subprocess(folder, alone, limits, allow_weak, problems), service.grade(folder, served, limits, allow_weak, problems))
    scores = [f"{o['results']['score']:g}" if o["ok"] else "error" for o in outcomes]
    if not all(o["ok"] for o in outcomes):
        verdict, same = "error", "grader error: " + " | ".join(" ".join(o["error"].split())[-200:] for o in outcomes if not o["ok"])
    elif not (differ := results.differences(alone, served)):
        verdict = same = "yes"
    else:
        varies, controls = set(), [alone]
        for n in (1, 2):
            again = out / name / f"again{n}" / "results.json"
            if grade_in_subprocess(folder, again, limits, allow_weak, problems)["ok"]:
                varies |= {anywhere(path) for control in controls for path in results.differences(control, again)}
                controls.append(again)
            real = [path for path in differ if anywhere(path) not in varies]
            if not real:
                break
        verdict = "no" if real else "varies"
        same = f"no: {real[0]}" if real else f"varies: {next(iter(differ))} (as per-process grades do)"
    return f"{name:<42} {','.join(problems or ['all']):<12} {scores[0]:>11} {scores[1]:>8}  {same}", verdict


def anywhere(path: str) -> str:
    """The key path with its list positions left out: results.json.tests[*].score."""
    return re.sub(r"\[\d+\]", "[*]", path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated submission names (examples or variants)")
    parser.add_argument("--examples-only", action="store_true", help="only examples/submissions/")
    parser.add_argument("--hostile-only", action="store_true", help="only tests/data/hostile.toml's variants")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at a time (default: %(default)s)")
    parser.add_argument("--keep", metavar="DIR", help="write the results files under DIR/NAME/{alone,served,again1,again2}/ and keep them")
    parser.add_argument("--allow-weak-sandbox", action="store_true", help="where the machine allows no namespaces")
    args = parser.parse_args()
    os.environ.setdefault("GRADER_HINT_SEED", "22")  # both graders inherit it (grading_environment keeps GRADER_*)
    started, load = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="parity-") as scratch, GradingService() as service:
        todo, out = submissions(args, Path(scratch)), Path(args.keep or Path(scratch) / "out")
        print(f"machine: {os.cpu_count()} cores, load average {load:.1f}; {len(todo)} submissions, {args.jobs} at a time\n")
        print(f"{'submission':<42} {'problems':<12} {'per-process':>11} {'service':>8}  same?", flush=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = [pool.submit(compare, service, *s, args.allow_weak_sandbox, out) for s in todo]
            verdicts = []
            for row in rows:
                line, verdict = row.result()
                verdicts.append(verdict)
                print(line, flush=True)
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("yes", "varies", "no", "error"))
    print(f"\n{len(todo)} submissions: {counts}; {time.monotonic() - started:.0f} s wall, load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0 if set(verdicts) <= {"yes", "varies"} else 1


if __name__ == "__main__":
    sys.exit(main())
