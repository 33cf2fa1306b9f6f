"""Trusted side: how good are the misconception hints? Measured on held-out slips, as grading does it.

    python -m grader.staff.qa.hints_check                 # tests/data/slips (written after the first library)
    python -m grader.staff.qa.hints_check --fresh         # tests/data/slips_fresh (written before this library)
    python -m grader.staff.qa.hints_check --fresh --only training

Each slip (one bug on the independent correct example) and each correct variant (written differently
from the reference) is built in a temporary folder; its problem's public and hidden suites run on it
in-process with grading's recorder (grader/staff/qa/record_plugin.py), and its replies go through the
same matcher grading uses (grader/core/hints.py), as if the problem had lost points.

A hint is RIGHT when it is one the slip's labels accept (`expect`: mutant names; `family`: family
names), and WRONG otherwise: any hint on a correct variant, a hint no label accepts, or a hint for a
slip with no label at all. Figures: named (slips with a right hint and no wrong one) of all slips,
split into specific and family hints, and every wrong hint.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.compat import tomllib
from grader.core.suites import suite_paths
from grader.core.variants import DATA, Variant, importers
from grader.staff.qa import selfcheck
from seam import REPO_ROOT

SETS = {"held-out": DATA / "slips" / "slips.toml", "fresh": DATA / "slips_fresh" / "slips.toml"}
FIELDS = ("name", "module", "find", "replace", "append")


@dataclass(frozen=True)
class Case:
    variant: Variant
    expect: tuple[str, ...]  # mutant names whose hint is right
    family: tuple[str, ...]  # family names whose general hint is right
    correct: bool  # a correct implementation: no hint is right


def load_cases(which: str = "held-out", only: list[str] | None = None) -> list[Case]:
    table = tomllib.loads(SETS[which].read_text())
    cases = []
    for kind in ("slip", "correct"):
        for entry in table.get(kind, []):
            if only and entry["module"] not in only:
                continue
            description = entry.get("description") or entry.get("misconception", "")
            variant = Variant(base="correct", description=description, **{k: entry[k] for k in FIELDS if k in entry})
            expect = entry.get("expect", ())
            cases.append(Case(variant, (expect,) if isinstance(expect, str) and expect else tuple(expect or ()),
                              tuple(entry.get("family", ())), kind == "correct"))
    return cases


def graded_hints(folder: Path | str, problem: str, seed: int = 0, library: bool = False, in_process: bool = False):
    """The hints `folder`'s code gets on `problem` (see `recorded`)."""
    found = recorded(folder, problem, seed, library, in_process)["hints"]
    return found.get(problem, {}) if library else found


def graded_hints_of_each(jobs: list[tuple[Path | str, str]]) -> list:
    """graded_hints(folder, problem) for each (folder, problem) of `jobs`, from one warm process."""
    return [found["hints"] for found in _record_each(jobs)[0]]


def recorded(folder: Path | str, problem: str, seed: int = 0, library: bool = False, in_process: bool = False) -> dict:
    """{"hints": the hints `folder`'s code gets from its replies to `problem`'s suites (the suites run in-process
    with grader/staff/qa/record_plugin.py), as if the problem had lost points. With `library` (and folder
    "solutions"): each mutant's hints on the reference's requests. `in_process` runs pytest in this
    process (a measurement loop: no interpreter start per case); else in a forked child of a warm
    process (selfcheck.run_plan). "failed": the node ids of the tests that failed (the problem lost
    points where one did)."""
    if not in_process:
        return _record_each([(folder, problem)], seed=seed, library=library)[0][0]
    import contextlib
    import io

    import pytest

    with tempfile.TemporaryDirectory(prefix="hints-check-") as scratch:
        out = Path(scratch) / "hints.json"
        with contextlib.redirect_stdout(io.StringIO()):
            pytest.main(_record_args(folder, problem, out, seed, library))
        if not out.exists():
            raise RuntimeError(f"recording {problem} on {folder} failed")
        return json.loads(out.read_text())


def graded_case(case: Case, in_process: bool = False) -> tuple[list[str], bool, list[str]]:
    """(the hints the case gets on its problem, whether its problem lost points, the other problems that
    lost points: those whose modules import the slipped one, the only ones a one-module slip can reach)."""
    if not in_process:
        return graded_cases([case])[0]
    with tempfile.TemporaryDirectory(prefix="hints-case-") as scratch:
        folder = case.variant.build(Path(scratch))
        found = recorded(folder, case.variant.module, in_process=True)
        elsewhere = [p for p in _importing_problems(case) if _loses_points(folder, p)]
    return _given(found), bool(found["failed"]), elsewhere


def graded_cases(cases: list[Case]) -> list[tuple[list[str], bool, list[str]]]:
    """graded_case for each case, every pytest run of them from one warm process (selfcheck.run_plan)."""
    with tempfile.TemporaryDirectory(prefix="hints-cases-") as scratch:
        folders = [case.variant.build(Path(scratch) / f"case-{n}") for n, case in enumerate(cases)]
        checks = [(n, problem) for n, case in enumerate(cases) for problem in _importing_problems(case)]
        found, lost = _record_each([(f, c.variant.module) for f, c in zip(folders, cases)], [(folders[n], p) for n, p in checks])
    return [
        (_given(record), bool(record["failed"]), [problem for (owner, problem), failed in zip(checks, lost) if owner == n and failed])
        for n, record in enumerate(found)
    ]


def _record_each(jobs: list[tuple[Path | str, str]], checks: list[tuple[Path | str, str]] = (), seed: int = 0, library: bool = False) -> tuple[list[dict], list[bool]]:
    """(`recorded` for each (folder, problem) of `jobs`, whether any test of the problem fails for each
    (folder, problem) of `checks`): every pytest run from one warm process (selfcheck.run_plan)."""
    with tempfile.TemporaryDirectory(prefix="hints-check-") as scratch:
        outs = [Path(scratch) / f"hints-{n}.json" for n in range(len(jobs))]
        plan = [_record_args(folder, problem, out, seed, library) for (folder, problem), out in zip(jobs, outs)]
        codes, log = selfcheck.run_plan(plan + [_loses_points_args(folder, problem) for folder, problem in checks])
        for (folder, problem), out in zip(jobs, outs):
            if not out.exists():
                raise RuntimeError(f"recording {problem} on {folder} failed:\n{log}")
        return [json.loads(out.read_text()) for out in outs], [code != 0 for code in codes[len(jobs):]]


def _record_args(folder: Path | str, problem: str, out: Path, seed: int = 0, library: bool = False) -> list[str]:
    return [*suite_paths([problem]), "-m", problem, f"--impl={folder}", f"--record-hints={out}", f"--record-seed={seed}",
            *(["--check-library"] if library else []), "-p", "grader.staff.qa.record_plugin",
            "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--hypothesis-profile=grading"]


def _loses_points_args(folder: Path | str, problem: str) -> list[str]:
    """pytest's arguments that fail (exit 1) where any public or hidden test of `problem` fails on `folder`."""
    return [*suite_paths([problem]), "-m", problem, f"--impl={folder}", "-q", "-x",
            "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly", "--hypothesis-profile=grading"]


def _given(found: dict) -> list[str]:
    return [h.get("slip") or f"family:{h['family']}" for h in found["hints"]]


def _importing_problems(case: Case) -> list[str]:
    return sorted(importers(case.variant.base).get(case.variant.module, ()))


def _loses_points(folder: Path, problem: str) -> bool:
    """Whether any public or hidden test of `problem` fails on `folder` (pytest in a subprocess)."""
    args = [sys.executable, "-m", "pytest", *_loses_points_args(folder, problem)]
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, timeout=1800).returncode != 0


@dataclass
class Figures:
    slips: int = 0
    named_specific: int = 0
    named_family: int = 0
    correct: int = 0
    lost_own: int = 0  # slips whose own problem lost points
    lost_elsewhere: list[tuple[str, list[str]]] = field(default_factory=list)  # (slip, other problems that lost points)
    correct_lost: list[str] = field(default_factory=list)  # correct variants that lost points (unfair tests)
    wrong: list[tuple[str, list[str]]] = field(default_factory=list)
    rows: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (case, verdict, given)

    @property
    def named(self) -> int:
        return self.named_specific + self.named_family

    @property
    def share(self) -> float:
        return self.named / self.slips if self.slips else 0.0


def verdict(case: Case, given: list[str]) -> str:
    right = set(case.expect) | {f"family:{f}" for f in case.family}
    if any(g not in right for g in given):
        return "WRONG"
    if not given:
        return "correct" if case.correct else "none"
    return "specific" if any(g in case.expect for g in given) else "family"


def measure(which: str = "held-out", only: list[str] | None = None, progress=lambda line: None) -> Figures:
    from grader.core import hints

    hints.MUTANT_SECONDS = max(hints.MUTANT_SECONDS, 1800.0)  # a measurement is not a grade: no time budget to miss
    figures = Figures()
    for case in load_cases(which, only):
        given, lost, elsewhere = graded_case(case, in_process=True)
        what = verdict(case, given)
        figures.rows.append((case.variant.name, what, given))
        progress(f"{what:9} {'lost' if lost else 'KEPT':4} {case.variant.name:45} {', '.join(given) or '-'}"
                 + (f"  (also lost: {', '.join(elsewhere)})" if elsewhere else ""))
        if elsewhere:
            figures.lost_elsewhere.append((case.variant.name, elsewhere))
        if case.correct:
            figures.correct += 1
            if lost:
                figures.correct_lost.append(case.variant.name)
        else:
            figures.slips += 1
            figures.lost_own += lost
        if what == "WRONG":
            figures.wrong.append((case.variant.name, given))
        elif what == "specific":
            figures.named_specific += 1
        elif what == "family":
            figures.named_family += 1
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="the fresh set (tests/data/slips_fresh)")
    parser.add_argument("--only", default="", help="comma-separated problems")
    args = parser.parse_args(argv)
    figures = measure("fresh" if args.fresh else "held-out", [m for m in args.only.split(",") if m] or None, print)
    print(f"\ncaught: {figures.lost_own} of {figures.slips} slips lose points in their own problem; "
          f"{len(figures.lost_elsewhere)} also in another ({figures.lost_elsewhere or 'none'}); "
          f"correct variants that lost points: {figures.correct_lost or 'none'}")
    print(f"named: {figures.named} of {figures.slips} slips ({figures.share:.0%}; {figures.named_specific} by a "
          f"specific hint, {figures.named_family} by a family); wrong hints: {len(figures.wrong)} (over "
          f"{figures.slips} slips and {figures.correct} correct variants)")
    for name, given in figures.wrong:
        print(f"  WRONG {name}: {given}")
    return 1 if figures.wrong or figures.correct_lost else 0


if __name__ == "__main__":
    sys.exit(main())
