"""Trusted side: misconception hints. Name the slip a failing submission made, or say nothing.

Every mutant in tests/data/mutants/ is a known student slip, with a `hint` written for students.
The probes are the suites' own requests: while the submission is graded, grader/core/replies.py keeps
a bounded sample of what it answered (grader/core/probes.py says which requests can be compared and
how). Here, for each problem that lost points, the reference and each of the problem's mutants answer
the same requests in-process (staff code, never the student's) and the answers are compared.

A mutant explains a submission when, on every request group where the mutant differs from the
reference, the submission's answers equal the mutant's, request by request, and differ from the
reference's somewhere there. Anything less gives no specific hint: a crash, a timeout or a stub's
NotImplementedError equals nothing, and two mutants that would explain the same group differently
cancel out. Where no mutant can be named, a family (grader/core/families.py) may be: the kind of
input the submission gets wrong, in general words. A correct submission (equal to the reference on
every request) gets neither.

Visibility is decided per hint: "public" when the replies to public tests alone give the same hint,
else "hidden" (failing a public test on purpose cannot make a hidden-only slip's hint public). A
hidden hint's text goes to the staff file only; results.json keeps an opaque key (`redact`).
"""

from __future__ import annotations

import ast
import builtins
import os
import copy
import functools
import hashlib
import importlib
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader.core import families as families_module
from grader.core import probes as probe_sets
from grader.core.replies import Replies, Reply
from grader.core.variants import Variant, load_mutants
from seam import REPO_ROOT, InProcessImpl, load_reference

REL, ABS = 1e-5, 1e-7  # a different but correct order of float operations stays inside these
# per problem: weighing every mutant on the replies must fit (else: no hint); GRADER_HINT_SECONDS to change it
MUTANT_SECONDS = float(os.environ.get("GRADER_HINT_SECONDS", "120"))


@dataclass(frozen=True)
class Outcome:
    kind: str  # "value", "raised" (a builtin exception type, by name) or "fault" (equals nothing)
    value: Any = None


# --- outcomes: the submission's from its replies, ours by running the probes ------------------
def outcome_of_reply(reply: Reply) -> Outcome:
    probe = probe_sets.probe_of(reply.group, reply.call)
    if reply.error is not None:
        return _raised(reply.error)
    return _kept(probe, reply.value)


def run_probes(impl, problem: str, probes: list[probe_sets.Probe]) -> list[Outcome]:
    """Each probe's outcome on `impl` (trusted code, in-process)."""
    return [_run_one(impl, problem, probe) for probe in probes]


def _run_one(impl, problem: str, probe: probe_sets.Probe) -> Outcome:
    kind, *rest = copy.deepcopy(probe.call)
    try:
        if kind == "call":
            function, args, kwargs = rest
            value = getattr(getattr(impl, problem), function)(*args, **kwargs)
        else:
            driver, kwargs = rest
            value = impl.run(_driver(driver), **kwargs)
    except Exception as error:  # noqa: BLE001  (what was raised is the outcome)
        return _raised(error)
    return _kept(probe, value)


def _kept(probe: probe_sets.Probe, value: Any) -> Outcome:
    if probe.keep is None:
        return Outcome("value", value)
    try:
        return Outcome("value", probe.keep(value, probe.call))
    except Exception:  # noqa: BLE001  (an output of the wrong structure explains nothing)
        return Outcome("fault")


def _driver(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _raised(error: BaseException) -> Outcome:
    """A builtin exception type by name (as the worker reports it); anything else is a fault."""
    from grader.core.faults import SubmissionFault  # the sandbox's own failures (timeouts, crashes)

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
        same_kind = isinstance(a, tuple) == isinstance(b, tuple)  # a tuple (named or not) is no list
        return same_kind and len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
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


# --- the library: mutants with a hint, built and probed here -------------------------------
def slips(problem: str) -> list[Variant]:
    return [m for m in _library() if m.module == problem and not m.cuda_only and m.extra.get("hint")]


@functools.lru_cache(maxsize=None)
def _library() -> tuple[Variant, ...]:
    """The mutants (tests/data/mutants/), read once per process: one hint search reads them some
    thirty times (each slip's home groups, its hint, the rivals), ~25 ms of TOML each time."""
    return tuple(load_mutants())


@functools.lru_cache(maxsize=None)
def home_groups(name: str) -> frozenset[str]:
    """The request groups of the public function a mutant edits ("strides.view"): its slip is about
    that function, and other functions that call it (the reference reuses its own functions, a
    submission may not) differ only as a consequence. Empty for a method or a helper: then every
    group where the mutant differs is its own."""
    mutant = next(m for m in _library() if m.name == name)
    source, tree = _solution(mutant.module)
    at = source.find(mutant.find or "\0")
    if at < 0:
        return frozenset()
    line = source[:at].count("\n") + 1
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.lineno <= line <= node.end_lineno and not node.name.startswith("_"):
            return frozenset({f"{mutant.module}.{node.name}"})
    return frozenset()


@functools.lru_cache(maxsize=None)
def _solution(module: str) -> tuple[str, ast.Module]:
    """The reference's text of `module` and its tree, read once (every slip of a problem asks)."""
    source = (REPO_ROOT / "solutions" / f"{module}.py").read_text()
    return source, ast.parse(source)


def outcomes_of_variant(variant: Variant, problem: str, probes: list[probe_sets.Probe]) -> list[Outcome]:
    """Build a (staff-written) variant in a temporary folder and run the probes on it here."""
    with tempfile.TemporaryDirectory(prefix="hint-") as scratch:
        return outcomes_of_folder(variant.build(Path(scratch)), problem, probes)


def outcomes_of_folder(folder: Path, problem: str, probes: list[probe_sets.Probe]) -> list[Outcome]:
    """Probe trusted code in `folder`/assignment/ here. `assignment` is bound to that folder
    only until the next binding, so its outcomes are taken at once, never lazily."""
    return run_probes(InProcessImpl("assignment", folder, f"the code in {folder}"), problem, probes)


@functools.lru_cache(maxsize=None)
def _reference():
    return load_reference()


# --- explaining a submission ---------------------------------------------------------------
@dataclass
class Evidence:
    """One problem's probes, the submission's and the reference's outcomes, and each mutant's on
    the probes it was run on (all of them for a mutant that was not refuted on the way)."""

    problem: str
    probes: list[probe_sets.Probe]
    public: list[bool]
    submission: list[Outcome]
    reference: list[Outcome]
    mutants: dict[str, dict[int, Outcome]]

    def rows(self, public_only: bool = False) -> list[int]:
        return [i for i in range(len(self.probes)) if self.public[i] or not public_only]


def gather(problem: str, replies: list[Reply], budget_seconds: float | None = None) -> Evidence | None:
    """The reference on every recorded request, then each mutant, request by request, until the
    submission's replies refute it (most are refuted on their first differing answer). None when
    the mutants could not all be weighed within the budget: no hint is better than a guess."""
    probes = [probe_sets.probe_of(r.group, r.call) for r in replies]
    submission = [outcome_of_reply(r) for r in replies]
    reference = run_probes(_reference(), problem, probes)
    evidence = Evidence(problem, probes, [r.public for r in replies], submission, reference, {})
    order = sorted(range(len(probes)), key=lambda i: (probes[i].call[0] == "run", probes[i].group, same(submission[i], reference[i])))
    deadline = time.monotonic() + (MUTANT_SECONDS if budget_seconds is None else budget_seconds)
    for mutant in slips(problem):
        with tempfile.TemporaryDirectory(prefix="hint-") as scratch:
            impl = InProcessImpl("assignment", mutant.build(Path(scratch)), f"mutant {mutant.name}")
            evidence.mutants[mutant.name] = _weigh(impl, evidence, order, home_groups(mutant.name))
        if time.monotonic() > deadline:
            return None
    return evidence


def _weigh(impl, evidence: Evidence, order: list[int], home: frozenset[str] = frozenset()) -> dict[int, Outcome]:
    """A mutant's outcomes, stopping at the first of its own groups (`home`, else any) where it differs
    from the reference and the submission does not answer like it (nothing after can change that)."""
    outcomes: dict[int, Outcome] = {}
    differs, mismatch = set(), set()
    for i in order:
        group = evidence.probes[i].group
        outcomes[i] = _run_one(impl, evidence.problem, evidence.probes[i])
        if not same(outcomes[i], evidence.reference[i]):
            differs.add(group)
        if not same(evidence.submission[i], outcomes[i]):
            mismatch.add(group)
        if differs & mismatch & (home or differs):
            break  # refuted
    return outcomes


def _differing_groups(evidence: Evidence, name: str, rows: list[int]) -> set[str]:
    outcomes = evidence.mutants[name]
    return {evidence.probes[i].group for i in rows if i in outcomes and not same(outcomes[i], evidence.reference[i])}


def explain(evidence: Evidence, public_only: bool = False) -> list[str]:
    """The mutants (by name) that explain the submission's outcomes (on public tests' replies only, if
    asked): on each of the mutant's own groups where it differs from the reference (its home groups,
    else every differing group), the submission answers like it, request by request."""
    rows = evidence.rows(public_only)
    matched: dict[str, set[str]] = {}
    for name, outcomes in evidence.mutants.items():
        differing = _differing_groups(evidence, name, rows)
        own = differing & home_groups(name) or differing
        where = [i for i in rows if evidence.probes[i].group in own]
        if not where or any(i not in outcomes for i in where):
            continue  # the probes cannot tell it from the reference, or it was refuted before all of them ran
        reproduced = all(same(evidence.submission[i], outcomes[i]) for i in where)
        unlike_reference = any(not same(evidence.submission[i], evidence.reference[i]) for i in where)
        returned = any(evidence.submission[i].kind == "value" for i in where)
        if reproduced and unlike_reference and returned:
            matched[name] = own
    # A named slip whose own groups another named slip also disturbs may be only a downstream effect of
    # it (the reference's machine_epsilon reads float_format): keep the cause; where each disturbs the
    # other's groups, neither can be told to be the cause, and both go.
    differs = {name: _differing_groups(evidence, name, rows) for name in matched}
    effects = {n for n in matched for o in matched if o != n and matched[n] <= differs[o]}
    return _unambiguous({n: g for n, g in matched.items() if n not in effects}, evidence.problem)


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


def family_hints(evidence: Evidence, explained: set[str], public_only: bool = False) -> list[str]:
    """Families for the groups no named mutant explains: the submission is wrong there only on
    requests of one family's kind, and right on several requests of other kinds."""
    rows = evidence.rows(public_only)
    named_groups = set().union(*(_differing_groups(evidence, name, rows) for name in explained)) if explained else set()
    found = []
    for group in sorted({evidence.probes[i].group for i in rows} - named_groups):
        members = [i for i in rows if evidence.probes[i].group == group]
        wrong = [i for i in members if not same(evidence.submission[i], evidence.reference[i])]
        if not wrong or not any(evidence.submission[i].kind != "fault" for i in wrong):
            continue
        fitting = []
        for family in families_module.families_for(group):
            inside = {i for i in members if _applies(family, evidence.probes[i].call, evidence.reference[i])}
            right_outside = sum(1 for i in members if i not in inside and same(evidence.submission[i], evidence.reference[i]))
            if set(wrong) <= inside and right_outside >= families_module.MIN_RIGHT_OUTSIDE:
                fitting.append((len(inside), family.name))
        if fitting:
            narrowest = min(size for size, _ in fitting)
            best = [name for size, name in fitting if size == narrowest]
            if len(best) == 1:  # the narrowest kind of input that holds every wrong answer; a tie says nothing
                found.append(best[0])
    return sorted(set(found))


def _applies(family, call: tuple, reference: Outcome) -> bool:
    try:
        return bool(family.applies(call, reference))
    except Exception:  # noqa: BLE001  (a request of another shape is not of this kind)
        return False


def hints_of(evidence: Evidence) -> list[dict]:
    """Specific hints, then families, each public when public tests' replies alone give it."""
    named = explain(evidence)
    named_public = set(explain(evidence, public_only=True))
    found = [{"problem": evidence.problem, "slip": name, "text": _text(slip=name),
              "visibility": "public" if name in named_public else "hidden"} for name in named]
    public_families = set(family_hints(evidence, named_public, public_only=True))
    for family in family_hints(evidence, set(named)):
        found.append({"problem": evidence.problem, "family": family, "text": _text(family=family),
                      "visibility": "public" if family in public_families else "hidden"})
    return found


def _text(slip: str | None = None, family: str | None = None) -> str:
    if slip is not None:
        return next(m.extra["hint"] for m in _library() if m.name == slip).strip()
    return next(f.text for f in families_module.FAMILIES if f.name == family)


def hints_for(failed: dict[str, str], replies: Replies) -> list[dict]:
    """failed: the problems that lost points. Every hint, with its visibility (staff see them all)."""
    found = []
    for problem in failed:
        recorded = replies.of_problem(problem)
        if not recorded or all(outcome_of_reply(r).kind == "fault" for r in recorded):
            continue  # nothing came back (a missing module, a stub): no mutant can match, none is built
        evidence = gather(problem, recorded)
        if evidence is not None:
            found += hints_of(evidence)
    return found


def library_check(problem: str, replies: list[Reply]) -> dict[str, list[str]]:
    """Each mutant taken as the submission, on the requests the suites make of the reference: the
    hints it gets. Its own name, a family or nothing is fine; another mutant's name is a wrong hint."""
    probes = [probe_sets.probe_of(r.group, r.call) for r in replies]
    reference = [outcome_of_reply(r) for r in replies]
    outcomes = {m.name: outcomes_of_variant(m, problem, probes) for m in slips(problem)}
    every_row = dict.fromkeys(range(len(probes)))
    found = {}
    for name, mine in outcomes.items():
        mutants = {other: dict(zip(every_row, theirs)) for other, theirs in outcomes.items()}
        evidence = Evidence(problem, probes, [r.public for r in replies], mine, reference, mutants)
        found[name] = [h.get("slip") or f"family:{h['family']}" for h in hints_of(evidence)]
    return found


# --- what results.json may carry ---------------------------------------------------------------
def key_of(hint: dict) -> str:
    """An opaque name for a hint (its text is in the library): what results.json keeps of a hidden one."""
    name = hint.get("slip") or f"family:{hint.get('family')}"
    return hashlib.sha256(f"{hint['problem']}:{name}".encode()).hexdigest()[:16]


def redact(found: list[dict]) -> list[dict]:
    """Public hints in full; a hidden hint only as its problem and key (the text stays staff-only)."""
    return [h if h["visibility"] == "public" else {"problem": h["problem"], "visibility": "hidden", "key": key_of(h)} for h in found]


def resolve(hint: dict) -> dict:
    """A redacted hidden hint back in full, from the library (staff tools: report)."""
    if "text" in hint or "key" not in hint:
        return hint
    candidates = [{"problem": m.module, "slip": m.name} for m in _library() if m.extra.get("hint")]
    candidates += [{"problem": hint["problem"], "family": f.name} for f in families_module.FAMILIES]
    for candidate in candidates:
        if candidate["problem"] == hint["problem"] and key_of(candidate) == hint["key"]:
            return {**candidate, "text": _text(candidate.get("slip"), candidate.get("family")), "visibility": "hidden"}
    return hint

