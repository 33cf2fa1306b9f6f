"""Trusted side (staff tooling): run the suites in-process on OUR OWN code and read the outcome.

For the reference, the stubs and the mutants: code the course wrote, so it runs in a plain
pytest subprocess (`--impl PATH`), no sandbox needed. Student submissions never come here:
they are graded by grader/core/grade.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Callable

from grader.core.rubric import Rubric
from grader.core.suites import suite_paths
from grader.worker import forking, zygote
from seam import REPO_ROOT

def pytest_args(impl: str | Path, modules: list[str] | None, report: Path, first_failure: bool = False) -> list[str]:
    """pytest's arguments for the suites of `modules` on `impl`, graded settings, a JUnit report;
    with `first_failure`, the run stops at the first failing test."""
    args = [
        *suite_paths(modules), f"--impl={impl}", f"--junitxml={report}",
        "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "seam.fast_tracebacks", "--hypothesis-profile=grading", "-o", "junit_family=xunit1",
    ]
    return args + (["-m", " or ".join(modules)] if modules else []) + (["--maxfail=1"] if first_failure else [])


def run_in_process(impl: str | Path, modules: list[str] | None = None, timeout: float = 900) -> dict[str, str]:
    """{test key: 'passed' | 'failed' | 'skipped'} for every test function of the suites run on `impl`.

    A function counts as failed when any of its cases failed, skipped when all were skipped.
    """
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as scratch:
        report = Path(scratch) / "junit.xml"
        command = [sys.executable, "-m", "pytest", *pytest_args(impl, modules, report)]
        finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
        if finished.returncode not in (0, 1) or not report.exists():
            raise RuntimeError(f"pytest could not run the suites on {impl} (exit {finished.returncode}):\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}")
        return _outcomes(ElementTree.parse(report))


def run_many_in_process(jobs: list[tuple[str | Path, list[str] | None]], timeout: float = 1800, first_failure: list[bool] | None = None) -> list[dict[str, str]]:
    """run_in_process for each (impl, modules) of `jobs`, in order, from ONE Python process.

    Starting Python, importing torch and pytest is most of a short run: that process does it
    once, then forks a child per job that runs pytest as run_in_process would (its own
    session, its own JUnit report; a job cannot touch the next one's state).
    """
    outcomes = run_each_in_process(jobs, timeout, first_failure)
    for outcome in outcomes:
        if isinstance(outcome, RuntimeError):
            raise outcome
    return outcomes


def run_each_in_process(jobs: list[tuple[str | Path, list[str] | None]], timeout: float = 1800, first_failure: list[bool] | None = None) -> list[dict[str, str] | RuntimeError]:
    """run_many_in_process, where a job that could not run is its own RuntimeError, not the whole list's;
    `first_failure[n]`: job n stops at its first failing test."""
    with tempfile.TemporaryDirectory(prefix="selfcheck-many-") as scratch:
        reports = [Path(scratch) / f"junit-{n}.xml" for n in range(len(jobs))]
        stops = first_failure or [False] * len(jobs)
        plan = [pytest_args(impl, modules, report, stop) for (impl, modules), report, stop in zip(jobs, reports, stops)]
        codes, log = run_plan(plan, timeout)
        outcomes: list[dict[str, str] | RuntimeError] = []
        for (impl, _), report, code in zip(jobs, reports, codes):
            if code not in (0, 1) or not report.exists():
                outcomes.append(RuntimeError(f"pytest could not run the suites on {impl} (exit {code}):\n{log}"))
            else:
                outcomes.append(_outcomes(ElementTree.parse(report)))
        return outcomes


def run_plan(plan: list[list[str]], timeout: float = 1800) -> tuple[list[int | None], str]:
    """Each pytest run of `plan` (its arguments) from ONE warm Python process, a forked child per
    run: (their exit statuses, None for all where that process failed; the end of its output)."""
    command = [sys.executable, "-m", "grader.staff.qa.selfcheck"]
    finished = subprocess.run(command, cwd=REPO_ROOT, input=json.dumps(plan), capture_output=True, text=True, timeout=timeout)
    codes = json.loads(finished.stdout.strip().splitlines()[-1]) if finished.returncode == 0 else [None] * len(plan)
    return codes, finished.stdout[-3000:] + finished.stderr[-3000:]


def run_variants(built: list, scratch: Path, modules_of: Callable[[Any], list[str]]) -> dict[str, dict[str, str]]:
    """{variant name: outcomes} for variants of the reference (mutants, alternatives), each built
    under `scratch` and run on the problems `modules_of` names, all from one process."""
    jobs = [(variant.build(scratch / variant.name), modules_of(variant)) for variant in built]
    return dict(zip((variant.name for variant in built), run_many_in_process(jobs)))


def run_mutants(built: list, scratch: Path, modules_of: Callable[[Any], list[str]]) -> dict[str, dict[str, str]]:
    """{mutant name: outcomes}, enough to tell where each mutant of the reference loses points,
    from one process: its own problem's tests until the first failure (one is enough to lose
    points there), every test of the other problems `modules_of` names (none may fail).

    The own problem's outcomes are partial: for which tests fail, use run_variants."""
    jobs, stops, owners = [], [], []
    for mutant in built:
        folder = mutant.build(scratch / mutant.name)
        others = [m for m in modules_of(mutant) if m != mutant.module]
        for modules, stop in [([mutant.module], True)] + ([(others, False)] if others else []):
            jobs.append((folder, modules))
            stops.append(stop)
            owners.append(mutant.name)
    found: dict[str, dict[str, str]] = {mutant.name: {} for mutant in built}
    for owner, outcome in zip(owners, run_many_in_process(jobs, first_failure=stops)):
        found[owner].update(outcome)
    return found


def _run_forked(plan: list[list[str]]) -> list[int]:
    """Each pytest run of `plan` in a forked child of this (warm) process: their exit statuses."""
    import hypothesis  # noqa: F401  (imported and warmed up once, here: what the children share)
    import pytest

    zygote.preload([])  # torch, einops, jaxtyping, and torch._dynamo's lazy import (FlopCounterMode, an optimizer's step)

    codes = []
    for args in plan:
        sys.stdout.flush()
        child = forking.fork()
        if child == 0:
            code = 3
            try:
                with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                    code = int(pytest.main(args))
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        codes.append(os.waitstatus_to_exitcode(status))
    return codes



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


if __name__ == "__main__":  # run_many_in_process's one process
    print(json.dumps(_run_forked(json.loads(sys.stdin.read()))))
