"""Trusted side (staff tooling): run the suites in-process on OUR OWN code and read the outcome.

For the reference, the stubs and the mutants: code the course wrote, so it runs in a plain
pytest subprocess (`--impl PATH`), no sandbox needed. Student submissions never come here:
they are graded by grader/core/grade.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from grader.core.rubric import Rubric
from grader.core.suites import suite_paths
from tests.seam import REPO_ROOT

def run_in_process(impl: str | Path, modules: list[str] | None = None, timeout: float = 900) -> dict[str, str]:
    """{test key: 'passed' | 'failed' | 'skipped'} for every test function of the suites run on `impl`.

    A function counts as failed when any of its cases failed, skipped when all were skipped.
    """
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as scratch:
        report = Path(scratch) / "junit.xml"
        command = [
            sys.executable, "-m", "pytest", *suite_paths(modules), f"--impl={impl}", f"--junitxml={report}",
            "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--hypothesis-profile=grading", "-o", "junit_family=xunit1",
        ]
        if modules:
            command += ["-m", " or ".join(modules)]
        finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
        if finished.returncode not in (0, 1) or not report.exists():
            raise RuntimeError(f"pytest could not run the suites on {impl} (exit {finished.returncode}):\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}")
        return _outcomes(ElementTree.parse(report))


def _outcomes(tree: ElementTree.ElementTree) -> dict[str, str]:
    cases: dict[str, list[str]] = {}
    for case in tree.iter("testcase"):
        path = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        key = f"{path.removeprefix('tests/')}::{case.get('name', '').split('[')[0]}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        cases.setdefault(key, []).append(outcome)
    return {key: _combine(outcomes) for key, outcomes in cases.items()}


def _combine(outcomes: list[str]) -> str:
    if "failed" in outcomes:
        return "failed"
    return "passed" if "passed" in outcomes else "skipped"


def points_lost(outcomes: dict[str, str], rubric: Rubric) -> dict[str, float]:
    """problem -> points its failed tests are worth (problems losing nothing are left out)."""
    lost: dict[str, float] = {}
    for key, outcome in outcomes.items():
        if outcome == "failed" and key in rubric.points:
            module = rubric.problem_of[key]
            lost[module] = lost.get(module, 0.0) + rubric.points[key]
    return lost
