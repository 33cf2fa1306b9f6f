"""Trusted side: how good are the misconception hints? Measured on a held-out set of slips.

    python -m grader.staff.hints_check        # a table, then the figures

tests/data/slips/slips.toml holds bugs written after the hints (each on the independent
correct example, one slip each, unlike the mutants' code) and correct implementations
written differently from the reference. Each is built in a temporary folder and probed
in-process (they are staff code): the matcher is the same one grading uses on the
sandbox's outputs. Figures: the share of slips a mutant describes that get exactly that
hint, and every wrong hint (a hint on a correct implementation, a hint other than the
expected one, or any hint for a slip no mutant describes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from grader.staff import hints
from grader.compat import tomllib
from grader.staff.variants import DATA, Variant
from tests.seam import MODULES

SLIPS = DATA / "slips" / "slips.toml"
FIELDS = ("name", "module", "description", "find", "replace", "append")


@dataclass(frozen=True)
class Case:
    variant: Variant
    expect: str  # the mutant whose hint is right; "" where the right outcome is none
    correct: bool  # a correct implementation: probed on every problem, as if it had failed each


def load_cases() -> list[Case]:
    table = tomllib.loads(SLIPS.read_text())
    cases = []
    for kind in ("slip", "correct"):
        for entry in table.get(kind, []):
            variant = Variant(base="correct", **{k: entry[k] for k in FIELDS if k in entry})
            cases.append(Case(variant, entry.get("expect", ""), kind == "correct"))
    return cases


def hints_of(case: Case) -> list[str]:
    """The mutants named for this case, over the problems it is probed on."""
    named = []
    for problem in MODULES if case.correct else (case.variant.module,):
        named += hints.explain(problem, hints.outcomes_of_variant(case.variant, problem))
    return named


@dataclass(frozen=True)
class Figures:
    described: int  # slips a mutant describes
    right: int  # of those, the ones that got exactly the right hint
    undescribed: int  # slips no mutant describes
    correct: int  # correct implementations
    wrong: list[tuple[str, list[str]]]  # (case, hints given) for every wrong hint
    rows: list[tuple[str, str, list[str]]]  # (case, expected, given)

    @property
    def share(self) -> float:
        return self.right / self.described if self.described else 0.0


def measure() -> Figures:
    rows, wrong, right = [], [], 0
    cases = load_cases()
    for case in cases:
        given = hints_of(case)
        rows.append((case.variant.name, case.expect, given))
        if any(name != case.expect for name in given):
            wrong.append((case.variant.name, given))
        elif case.expect and given == [case.expect]:
            right += 1
    described = sum(1 for c in cases if c.expect)
    correct = sum(1 for c in cases if c.correct)
    return Figures(described, right, len(cases) - described - correct, correct, wrong, rows)


def main() -> int:
    figures = measure()
    for name, expect, given in figures.rows:
        verdict = "ok" if given == ([expect] if expect else []) else ("WRONG" if any(g != expect for g in given) else "missed")
        print(f"{verdict:6} {name:40} expected {expect or '-':45} got {', '.join(given) or '-'}")
    print(f"\nright hint: {figures.right} of {figures.described} slips a mutant describes ({figures.share:.0%}); "
          f"wrong hints: {len(figures.wrong)} (over {figures.undescribed} slips no mutant describes and "
          f"{figures.correct} correct implementations probed on all {len(MODULES)} problems)")
    return 1 if figures.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
