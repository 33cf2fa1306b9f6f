"""Trusted side: what the static source rules put into a grade, and the course's `[integrity]` policy.

Two kinds of flag come from reading the staged source (never from the worker):
- `tamper` (grader/core/source_rules.py): code that reaches into the grader or switches a monitor
  off; detail: the file, the line and the rule.
- `own-work` (seam/own_work.py): a function that hands its derivation to PyTorch; its tests
  already fail with the rule's message, the flag tells staff at a glance.

What a `tamper` flag does to the score is the course's choice (course.toml):

    [integrity]
    tamper = "flag"   # the default: flag for staff, the score stands
    tamper = "zero"   # also hold every problem with a finding at 0, "held for review"

The default is "flag": a static rule reads text, not intent, and an honest student's grade should
not wait on a reviewer (the rules are kept precise enough that the kit's reference, examples,
alternatives and similarity students raise none, but a course has students the kit never saw).
What tampering could buy is already taken away where it is bought: own-work breaches fail their
function's tests, the einsum rule is read off the text as well as recorded, every expected value is
computed on the trusted side. "zero" is for courses that would rather review before any
flagged point counts. A held test keeps the points it earned in `extra_data.held`, so
`python -m grader override STUDENT --release PROBLEM` gives them back after review.
"""

from __future__ import annotations

import copy
from typing import Mapping

from grader.core import source_rules
from seam import own_work

POLICIES = ("flag", "zero")
DEFAULT = "flag"
MAX_FINDINGS = 20  # flags per submission from the source (a file of 10,000 `gc.get_objects()` lines is one story)
MAX_DETAIL = 300
HELD = "Held for review: the grader found code that reaches into the grader in this problem's module ({rules}); staff review it before these points count."


def source_flags(sources: Mapping[str, str], problems: tuple[str, ...], breaches: Mapping[tuple[str, str], own_work.Breach]) -> tuple[list[dict], dict[str, list[str]]]:
    """The `tamper` and `own-work` flags of a submission's staged source, and problem -> the tamper
    findings that would hold it (its module's, or a helper module's it imports)."""
    found = source_rules.findings(sources)
    flags = [{"kind": "tamper", "detail": f.detail()[:MAX_DETAIL], "test": None} for f in found[:MAX_FINDINGS]]
    if len(found) > MAX_FINDINGS:
        flags.append({"kind": "tamper", "detail": f"... and {len(found) - MAX_FINDINGS} more findings of the same kinds", "test": None})
    flags += [{"kind": "own-work", "detail": b.message()[:MAX_DETAIL], "test": None} for (module, _), b in sorted(breaches.items()) if module in problems]
    held = source_rules.problems_held(found, sources, problems)
    return flags, {problem: [f.detail()[:MAX_DETAIL] for f in findings[:MAX_FINDINGS]] for problem, findings in sorted(held.items())}


def hold(results: dict, policy: str) -> dict:
    """`results` under the policy: with "zero", every test of a problem with tamper findings scores 0,
    says why, and keeps what it earned in extra_data.held (applied once; "flag" changes nothing)."""
    if policy not in POLICIES:
        raise ValueError(f"[integrity] tamper: {policy!r}; expected one of {POLICIES}")
    tamper = results.get("extra_data", {}).get("tamper") or {}
    if policy == "flag" or not tamper:
        return results
    held = copy.deepcopy(results)
    for test in held["tests"]:
        problem = test["tags"][0]
        if problem in tamper and "held" not in test["extra_data"]:
            rules = ", ".join(sorted({detail.split(": ")[1] for detail in tamper[problem]}))
            test["extra_data"]["held"] = test["score"]
            test["score"] = 0.0
            test["output"] = HELD.format(rules=rules) + ("\n\n" + test["output"] if test.get("output") else "")
    held["score"] = round(sum(t["score"] for t in held["tests"]), 4)
    held["extra_data"]["held_for_review"] = sorted(tamper)
    return held


def held_points(results: dict, problem: str) -> dict[str, float]:
    """test key -> the points it earned, for each test of `problem` the policy held."""
    return {t["extra_data"]["key"]: t["extra_data"]["held"] for t in results["tests"]
            if t["tags"][0] == problem and "held" in t["extra_data"]}
