"""The hints students read print no formula the handout asks them to derive.

A failing hidden test shows the first paragraph of its docstring as a hint (grader/core/plugin.py),
and a near miss shows its mutant's `hint` (tests/data/mutants/*.toml). Both reach students in their
feedback, so both are held to the release's formula rules (grader/staff/release/rules.toml), as
the shipped files are.
"""

import ast
import tomllib

import pytest

from grader.staff.release import leak_check
from seam import REPO_ROOT

pytestmark = pytest.mark.project


def hidden_test_hints() -> list[tuple[str, str]]:
    """(where, hint) for every hidden test: its docstring's first paragraph, on one line."""
    hints = []
    for path in sorted((REPO_ROOT / "tests" / "hidden").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                first = (ast.get_docstring(node) or "").split("\n\n")[0]
                hints.append((f"{path.name}::{node.name}", " ".join(first.split())))
    return hints


def mutant_hints() -> list[tuple[str, str]]:
    hints = []
    for path in sorted((REPO_ROOT / "tests" / "data" / "mutants").glob("*.toml")):
        for mutant in tomllib.loads(path.read_text()).get("mutant", []):
            hints.append((f"{path.name}::{mutant['name']}", mutant.get("hint", "")))
    return hints


def formulas_in(hints: list[tuple[str, str]]) -> list[str]:
    return [f"{where}: {rule['name']} in {text!r}" for where, text in hints
            for rule in leak_check.load_rules()["formula"] if rule["regex"].search(text)]


def test_hints_are_read():
    """The readers find the hints (an empty list would make the checks below vacuous)."""
    assert len(hidden_test_hints()) > 80 and sum(bool(text) for _, text in mutant_hints()) > 30


def test_hidden_tests_hints_state_no_formula():
    assert formulas_in(hidden_test_hints()) == []


def test_mutants_hints_state_no_formula():
    assert formulas_in(mutant_hints()) == []


def test_the_rules_catch_a_hint_that_gives_the_count_away():
    """The rules read hint text as they read the handout: these spellings are caught."""
    given_away = [("made-up", "Each multiply-accumulate is two FLOPs (a multiply and an add)."),
                  ("made-up", "Cruncher registers its weights: dim^2 * L + dim values."),
                  ("made-up", "training_flops(N, D) must be 6 x N x D.")]
    assert len(formulas_in(given_away)) == 3
