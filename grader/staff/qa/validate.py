"""Trusted side (staff tooling): are the suites sound enough to release?

    check_suite    the reference must earn every point, the untouched stubs none
    check_mutants  each mutant (tests/data/mutants/) must lose points in its own problem only
    validate       all of it (and, optionally, a mutation run: grader/staff/qa/mutation.py) as one Report

Everything here runs code the course wrote (solutions/, assignment/ stubs, mutants of the
reference) in plain pytest subprocesses via grader/staff/qa/selfcheck.py: no student code, no sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from grader.core import rubric as rubric_module
from grader.core import variants
from grader.staff.qa import selfcheck
from grader.staff.qa.mutation import MutationRun
from seam import MODULES, REPO_ROOT


@dataclass
class SuiteCheck:
    """One implementation run through the suites, and whether it scored what it must."""

    label: str
    expected: str  # "all" or "none": the points it must earn
    earned: float
    max_score: float
    wrong: list[str]  # test keys that broke the expectation (failed on the reference, passed on the stubs)
    ok: bool


@dataclass
class MutantCheck:
    name: str
    module: str
    description: str
    lost: dict[str, float]  # problem -> points lost
    status: str  # "caught", "NOT caught" (lost nothing), "leaks" (lost elsewhere too), "skipped", "error"
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("caught", "skipped")


@dataclass
class Report:
    modules: list[str]
    reference: SuiteCheck
    stubs: SuiteCheck
    mutants: list[MutantCheck]
    mutation: MutationRun | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The release gate: (1)-(3). The mutation run informs; it does not gate."""
        return self.reference.ok and self.stubs.ok and all(m.ok for m in self.mutants)

    def to_json(self) -> str:
        data = asdict(self)
        data["ok"] = self.ok
        return json.dumps(data, indent=2)

    def to_markdown(self) -> str:
        lines = [f"# Suite validation: {'PASSED' if self.ok else 'FAILED'}", "", f"Problems: {', '.join(self.modules)}", ""]
        for check in (self.reference, self.stubs):
            mark = "ok" if check.ok else "FAILED"
            lines.append(f"- {check.label}: {check.earned:g} / {check.max_score:g} points (must earn {check.expected}): {mark}")
            lines += [f"  - {key}" for key in check.wrong]
        lines += ["", "## Mutants", "", "| mutant | problem | status | points lost | note |", "|---|---|---|---|---|"]
        for m in self.mutants:
            lost = ", ".join(f"{k} {v:g}" for k, v in sorted(m.lost.items())) or "none"
            note = (m.note or m.description).replace("|", "\\|")  # a pipe would split the table's cell
            lines.append(f"| {m.name} | {m.module} | {m.status} | {lost} | {note} |")
        if self.mutation is not None:
            lines += ["", *self.mutation.markdown_lines()]
        if self.seconds:
            lines += ["", "Seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items())]
        return "\n".join(lines) + "\n"


# --- (1) and (2): the reference and the stubs --------------------------------------------------


def check_suite(impl: str | Path, label: str, expected: str, modules: list[str]) -> SuiteCheck:
    """Run the suites of `modules` on `impl`; `expected` is "all" (every point) or "none"."""
    rubric = rubric_module.load().only(modules)
    outcomes = selfcheck.run_in_process(impl, modules)
    earned = sum(points for key, points in rubric.points.items() if outcomes.get(key) == "passed")
    # A test wholly skipped here (a CUDA-only one) is worth nothing either way, as in grading.
    max_score = sum(points for key, points in rubric.points.items() if outcomes.get(key) != "skipped")
    if expected == "all":
        wrong = sorted(key for key in rubric.points if outcomes.get(key) not in ("passed", "skipped"))
    else:
        wrong = sorted(key for key in rubric.points if outcomes.get(key) == "passed")
    return SuiteCheck(label, expected, earned, max_score, wrong, ok=not wrong)


# --- (3): the mutants -----------------------------------------------------------------------


MUTANTS_PER_PROCESS = 8  # one warm process (torch and pytest imported once) per 8 mutants; progress after each 8


def check_mutant(mutant: variants.Variant, cuda: bool) -> MutantCheck:
    """Build the mutant in a scratch folder and run the problems it can touch."""
    return check_mutants([mutant], workers=1, cuda=cuda)[0]


def check_mutants(mutants: list[variants.Variant], workers: int, cuda: bool, progress: Callable[[MutantCheck], None] = lambda c: None) -> list[MutantCheck]:
    """All mutants, in order: `workers` processes at a time, each running a few mutants from one
    warm process (selfcheck.run_each_in_process), so threads are enough to fill the cores."""
    runnable = [m for m in mutants if cuda or not m.cuda_only]
    chunks = [runnable[i : i + MUTANTS_PER_PROCESS] for i in range(0, len(runnable), MUTANTS_PER_PROCESS)]
    checked: dict[str, MutantCheck] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for chunk_checks in pool.map(_check_chunk, chunks):
            for check in chunk_checks:
                checked[check.name] = check
                progress(check)
    checks = []
    for mutant in mutants:
        if mutant.name not in checked:  # cuda_only, and no CUDA here
            check = MutantCheck(mutant.name, mutant.module, mutant.description, {}, "skipped", "cuda_only, and this machine has no CUDA device")
            progress(check)
            checked[mutant.name] = check
        checks.append(checked[mutant.name])
    return checks


def _check_chunk(mutants: list[variants.Variant]) -> list[MutantCheck]:
    checks = [MutantCheck(m.name, m.module, m.description, {}, "error") for m in mutants]
    with tempfile.TemporaryDirectory(prefix="validate-") as scratch:
        jobs, runs = [], []
        for mutant, check in zip(mutants, checks):
            try:
                jobs.append((mutant.build(Path(scratch) / mutant.name), variants.affected_problems(mutant)))
                runs.append(check)
            except (ValueError, OSError) as error:
                check.note = str(error)[-500:]
        try:
            outcomes = selfcheck.run_each_in_process(jobs) if jobs else []
        except (OSError, subprocess.TimeoutExpired) as error:
            outcomes = [RuntimeError(str(error))] * len(jobs)
        for check, outcome in zip(runs, outcomes):
            if isinstance(outcome, RuntimeError):
                check.note = str(outcome)[-500:]
            else:
                _judge(check, outcome)
    return checks


def _judge(check: MutantCheck, outcomes: dict[str, str]) -> None:
    check.lost = selfcheck.points_lost(outcomes, rubric_module.load())
    if not check.lost:
        check.status = "NOT caught"
    elif set(check.lost) != {check.module}:
        check.status = "leaks"
        check.note = f"loses points outside {check.module}: the suites reach it through other problems"
    else:
        check.status = "caught"


# --- all of it --------------------------------------------------------------------------------


def validate(
    modules: list[str] | None = None,
    mutants: list[variants.Variant] | None = None,
    workers: int | None = None,
    mutation: bool = False,
    cuda: bool | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Report:
    """The whole validation of `modules` (default: all). `mutants` defaults to tests/data/mutants/."""
    modules = list(modules or MODULES)
    unknown = set(modules) - set(MODULES)
    if unknown:
        raise ValueError(f"no such problem(s): {sorted(unknown)}; problems are {', '.join(MODULES)}")
    mutants = [m for m in (variants.load_mutants() if mutants is None else mutants) if m.module in modules]
    workers = workers or os.cpu_count() or 1
    cuda = _cuda_available() if cuda is None else cuda
    seconds = {}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:  # the reference and the stubs side by side
        reference = pool.submit(check_suite, "solutions", "the reference (solutions/)", "all", modules)
        stubs = pool.submit(check_suite, REPO_ROOT, "the untouched stubs (assignment/)", "none", modules)
        reference, stubs = reference.result(), stubs.result()
    seconds["reference and stubs"] = time.perf_counter() - started
    progress(f"reference {reference.earned:g}/{reference.max_score:g}, stubs {stubs.earned:g}/{stubs.max_score:g}")

    started = time.perf_counter()
    checks = check_mutants(mutants, workers, cuda, lambda c: progress(f"mutant {c.name}: {c.status}"))
    seconds["mutants"] = time.perf_counter() - started

    report = Report(modules, reference, stubs, checks, seconds=seconds)
    if mutation:
        from grader.staff.qa import mutation as mutation_module

        started = time.perf_counter()
        report.mutation = mutation_module.run(modules, workers, progress)
        seconds["mutation run"] = time.perf_counter() - started
    return report


def write(report: Report, out: Path) -> list[Path]:
    """`out` ending in .md or .json: that file; anything else: a folder with validate.md and validate.json."""
    if out.suffix in (".md", ".json"):
        targets = [out]
    else:
        targets = [out / "validate.md", out / "validate.json"]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        text = report.to_json() if target.suffix == ".json" else report.to_markdown()
        scratch = target.with_name(target.name + ".tmp")
        scratch.write_text(text)
        scratch.replace(target)  # atomic: a half-written report is never read as the result
    return targets


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
