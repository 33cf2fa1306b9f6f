"""Trusted side: misconception hints. Name the slip a failing submission made, or say nothing.

Every mutant in tests/data/mutants/ is a known student slip, with a `hint` written for
students. When a submission loses points in a problem, the problem's fixed probes
(grader/staff/probes.py) run on it through the sandbox at the end of its grading; here, on the
trusted side, the same probes run on the reference and on each of the problem's mutants
(staff code, imported in-process from temporary folders; never the student's code).

A mutant explains a submission when, on every probe group where the mutant differs from the
reference, the submission's outputs equal the mutant's, probe by probe, and the submission
differs from the reference there too. Anything less gives no hint: a crash, a timeout or a
stub's NotImplementedError equals nothing, a submission must return a value somewhere in
those groups, and two mutants that would explain the same group differently cancel out.
So a hint can be missing, but a correct submission (equal to the reference on every probe)
can never get one.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import math
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader.staff import config as config_module
from grader.staff import probes as probe_sets
from grader.staff.variants import Variant, load_mutants
from tests.seam import InProcessImpl, load_reference

REL, ABS = 1e-5, 1e-7  # a different but correct order of float operations stays inside these


@dataclass(frozen=True)
class Outcome:
    kind: str  # "value", "raised" (a builtin exception type, by name) or "fault" (equals nothing)
    value: Any = None


# --- running the probes (the same code for the sandbox and for in-process code) ---------
def run_probes(impl, problem: str, probes: list[probe_sets.Probe] | None = None) -> list[Outcome]:
    """Each probe's outcome on `impl`; a RemoteImpl gets a fresh worker per group, as a test would."""
    probes = probe_sets.for_problem(problem) if probes is None else probes
    outcomes, group, healthy = [], None, True
    for probe in probes:
        if probe.group != group and hasattr(impl, "begin_test"):
            if group is not None:
                impl.end_test(healthy)
            impl.begin_test(f"hints::{probe.group}", problem)
            healthy = True
        group = probe.group
        outcome = _run_one(impl, problem, probe)
        healthy = healthy and outcome.kind == "value"
        outcomes.append(outcome)
    if group is not None and hasattr(impl, "end_test"):
        impl.end_test(healthy)
    return outcomes


def _run_one(impl, problem: str, probe: probe_sets.Probe) -> Outcome:
    kind, *rest = probe.call
    try:
        if kind == "call":
            function, args, kwargs = rest
            value = getattr(getattr(impl, problem), function)(*args, **kwargs)
        else:
            driver, kwargs = rest
            value = impl.run(_driver(driver), **kwargs)
    except Exception as error:  # noqa: BLE001  (what was raised is the outcome)
        return _raised(error)
    if probe.keep is None:
        return Outcome("value", value)
    try:
        return Outcome("value", probe.keep(value, probe.call))
    except Exception:  # noqa: BLE001  (an output of the wrong structure explains nothing)
        return Outcome("fault")


def _driver(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _raised(error: Exception) -> Outcome:
    """A builtin exception type by name (as the worker reports it); anything else is a fault."""
    from grader.core.sandbox import SubmissionFault  # the sandbox's own failures (timeouts, crashes)

    if isinstance(error, (SubmissionFault, NotImplementedError)):
        return Outcome("fault")
    for klass in type(error).__mro__:
        if klass.__module__ == "builtins" and getattr(builtins, klass.__name__, None) is klass:
            return Outcome("raised", klass.__name__)
    return Outcome("fault")


# --- comparing outcomes -----------------------------------------------------------------
def same(a: Outcome, b: Outcome) -> bool:
    if a.kind == "fault" or b.kind == "fault" or a.kind != b.kind:
        return False
    return a.value == b.value if a.kind == "raised" else _same_value(a.value, b.value)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = (torch.as_tensor(v) if isinstance(v, np.ndarray) else v for v in (a, b))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return _same_tensor(a, b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=REL, abs_tol=ABS)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _same_tensor(a: Any, b: Any) -> bool:
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        return bool(torch.allclose(a.double().cpu(), b.double().cpu(), rtol=REL, atol=ABS, equal_nan=True))
    return bool(torch.equal(a.cpu(), b.cpu()))


# --- the trusted side's outcomes, once per process ---------------------------------------
@functools.lru_cache(maxsize=None)
def reference_outcomes(problem: str) -> tuple[Outcome, ...]:
    return tuple(run_probes(load_reference(), problem))


@functools.lru_cache(maxsize=None)
def mutant_outcomes(problem: str) -> dict[str, tuple[Outcome, ...]]:
    """mutant name -> its outcomes, for the CPU mutants of `problem` that carry a hint."""
    found = {}
    for mutant in slips(problem):
        found[mutant.name] = tuple(outcomes_of_variant(mutant, problem))
    return found


def outcomes_of_variant(variant: Variant, problem: str) -> list[Outcome]:
    """Build a (staff-written) variant in a temporary folder and run the probes on it here."""
    with tempfile.TemporaryDirectory(prefix="hint-") as scratch:
        return outcomes_of_folder(variant.build(Path(scratch)), problem)


def outcomes_of_folder(folder: Path, problem: str) -> list[Outcome]:
    """Probe trusted code in `folder`/assignment/ here. `assignment` is bound to that folder
    only until the next binding, so its outcomes are taken at once, never lazily."""
    return run_probes(InProcessImpl("assignment", folder, f"the code in {folder}"), problem)


def slips(problem: str) -> list[Variant]:
    return [m for m in load_mutants() if m.module == problem and not m.cuda_only and m.extra.get("hint")]


# --- explaining a submission ---------------------------------------------------------------
def explain(problem: str, submission: list[Outcome]) -> list[str]:
    """The mutants (by name) that explain `submission`'s outcomes on `problem`'s probes."""
    groups = [p.group for p in probe_sets.for_problem(problem)]
    reference = reference_outcomes(problem)
    matched: dict[str, set[str]] = {}
    for name, outcomes in mutant_outcomes(problem).items():
        differing = {groups[i] for i, (m, r) in enumerate(zip(outcomes, reference)) if not same(m, r)}
        where = [i for i, g in enumerate(groups) if g in differing]
        if not where:
            continue  # the probes cannot tell this mutant from the reference
        reproduced = all(same(submission[i], outcomes[i]) for i in where)
        unlike_reference = any(not same(submission[i], reference[i]) for i in where)
        returned = any(submission[i].kind == "value" for i in where)
        if reproduced and unlike_reference and returned:
            matched[name] = differing
    return _unambiguous(matched, problem)


def _unambiguous(matched: dict[str, set[str]], problem: str) -> list[str]:
    """Drop mutants that explain the same group with a different hint (either could be right)."""
    text = {m.name: m.extra["hint"] for m in slips(problem)}
    # A mutant whose groups another matched mutant's strictly contain shows only a downstream
    # effect of that one (stack FLOPs built on a wrong backward count): the wider one names the cause.
    matched = {n: g for n, g in matched.items() if not any(g < other for o, other in matched.items() if o != n)}
    kept = []
    for name, groups in matched.items():
        rivals = [o for o, g in matched.items() if o != name and g & groups and text[o] != text[name]]
        duplicate = any(text[o] == text[name] and o < name for o in matched if o != name)
        if not rivals and not duplicate:
            kept.append(name)
    return sorted(kept)


def hints_for(failed: dict[str, str], submission_outcomes: dict[str, list[Outcome]]) -> list[dict]:
    """failed: problem -> "public" or "hidden" (the kind of test it lost points in)."""
    text = {m.name: m.extra["hint"] for problem in failed for m in slips(problem)}
    found = []
    for problem, visibility in failed.items():
        outcomes = submission_outcomes.get(problem)
        if outcomes is None or all(o.kind == "fault" for o in outcomes):
            continue  # nothing came back (a missing module, a stub): no mutant can match, so none is built
        for name in explain(problem, outcomes):
            found.append({"problem": problem, "slip": name, "text": text[name].strip(), "visibility": visibility})
    return found


# --- where hints show (the course config's [hints] table) ---------------------------------
@dataclass(frozen=True)
class HintPolicy:
    """show: "public" (hints for slips a public test caught; the default), "all", or "never".
    hidden_after_deadline: from the [late] deadline on, "public" shows hidden tests' hints too."""

    show: str = "public"
    hidden_after_deadline: bool = False
    deadline: datetime | None = None

    def shows(self, hint: dict, now: datetime | None = None) -> bool:
        if self.show == "never":
            return False
        if self.show == "all" or hint.get("visibility") == "public":
            return True
        now = now or datetime.now(timezone.utc)
        return self.hidden_after_deadline and self.deadline is not None and now >= self.deadline


def load_policy(config: Path | None) -> HintPolicy:
    """The course config's [hints] table (grader/staff/config.py checks it); ConfigError if it is wrong."""
    course = config_module.load(config)
    table = course.hints or {}
    deadline = course.late["deadline"] if course.late else None
    return HintPolicy(table.get("show", "public"), table.get("hidden_after_deadline", False), deadline)


def shown(results: dict, policy: HintPolicy, now: datetime | None = None) -> list[dict]:
    """The hints of one results.json that the policy lets its student see."""
    return [h for h in (results.get("extra_data") or {}).get("hints", []) if policy.shows(h, now)]


# --- in grade_one: probe the failed problems before the sandbox closes -------------------
def failed_problems(scores) -> dict[str, str]:
    """problem -> "public" when a public test of it failed, else "hidden" (only for problems that lost points)."""
    failed: dict[str, str] = {}
    for score in scores:
        if score.status == "failed":
            kind = "public" if score.visible else "hidden"
            failed[score.module] = "public" if failed.get(score.module) == "public" else kind
    return failed


def probe_submission(remote, failed: dict[str, str]) -> dict[str, list[Outcome]]:
    """The submission's outcomes on each failed problem's probes (through the sandbox)."""
    found = {}
    for problem in failed:
        try:
            found[problem] = run_probes(remote, problem)
        except Exception:  # noqa: BLE001  (a sandbox that cannot serve probes gives no hint, never a wrong one)
            continue
    return found
