"""Correct code written another way keeps full marks: a test that takes points off one of the
alternatives in tests/data/alternatives/ grades a convention (or the reference's style), not
the spec. Each is the reference with one function rewritten, run in-process on the problems
it can touch."""

import pytest

from grader.core import rubric

from grader.core import variants
from grader.staff.qa import selfcheck

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("alternatives"), pytest.mark.timeout(900)]

ALTERNATIVES = variants.load_alternatives()


def test_every_alternative_has_a_unique_name_and_a_description():
    """The alternatives are test data a reader must be able to trust: named once, each saying what it does differently."""
    names = [a.name for a in ALTERNATIVES]
    assert ALTERNATIVES and len(set(names)) == len(names)
    assert all(a.description for a in ALTERNATIVES)


RULE_MUTANTS = [m for m in variants.load_mutants() if m.extra.get("must_fail")]


@pytest.fixture(scope="module")
def outcomes_by_name(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Every alternative (on the problems it can touch) and rule-breaking mutant (on its own
    problem), run from one warm process."""
    scratch = tmp_path_factory.mktemp("variants")
    return {
        **selfcheck.run_variants(ALTERNATIVES, scratch, variants.affected_problems),
        **selfcheck.run_variants(RULE_MUTANTS, scratch, lambda mutant: [mutant.module]),
    }


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda a: a.name)
def test_each_alternative_keeps_full_marks(alternative, outcomes_by_name):
    """A correct implementation in another style loses no point anywhere."""
    outcomes = outcomes_by_name[alternative.name]
    failed = sorted(key for key, outcome in outcomes.items() if outcome == "failed")
    lost = selfcheck.points_lost(outcomes, rubric.load())
    assert not lost, f"{alternative.name} ({alternative.description}) lost {lost} in {failed}"


@pytest.mark.parametrize("mutant", RULE_MUTANTS, ids=lambda m: m.name)
def test_each_rule_breaking_mutant_fails_the_tests_it_names(mutant, outcomes_by_name):
    """A mutant with `must_fail` (code that passed an old, weaker check) fails exactly where the data says it must."""
    outcomes = outcomes_by_name[mutant.name]
    not_failed = [key for key in mutant.extra["must_fail"] if outcomes.get(key) != "failed"]
    assert not not_failed, f"{mutant.name} ({mutant.description}) was not caught by {not_failed}"
