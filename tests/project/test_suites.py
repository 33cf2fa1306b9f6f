"""The suites are sound: stubs score 0, a second correct implementation full marks, and each
mutant of the reference loses points in its own problem and nowhere else.

These run the suites in-process (pytest subprocesses) on code the course wrote; the
sandboxed path is covered by test_sandbox.py.
"""

from pathlib import Path

import pytest

from grader.core import rubric

from grader.core import variants
from grader.staff.qa import selfcheck
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

# Every mutant but the hint library's growth (`ci = false`: `python -m grader validate` checks those
# before a release; one per problem stays here), so CI's per-mutant runs stay as many as they were.
MUTANTS = [m for m in variants.load_mutants() if not m.cuda_only and m.extra.get("ci", True)]


# The three whole-suite runs below, from one warm process (selfcheck.run_many_in_process), on one xdist worker.
WHOLE_SUITES = pytest.mark.xdist_group("suites-whole")


@pytest.fixture(scope="module")
def whole_suites(tmp_path_factory) -> dict[str, dict[str, str]]:
    """{"stubs" | "raises_only" | "correct": the outcomes of every test of the suites on it}."""
    folders = {
        "stubs": REPO_ROOT,
        "raises_only": raises_only(tmp_path_factory.mktemp("raises") / "raises_only"),
        "correct": REPO_ROOT / "examples" / "submissions" / "correct",
    }
    return dict(zip(folders, selfcheck.run_many_in_process([(folder, None) for folder in folders.values()])))


@WHOLE_SUITES
def test_untouched_stubs_fail_every_test(whole_suites):
    """The stubs as released earn nothing: every graded test fails on them."""
    outcomes = whole_suites["stubs"]
    passed = sorted(key for key, outcome in outcomes.items() if outcome == "passed")
    assert not passed, f"tests that pass on the untouched stubs: {passed}"
    assert set(outcomes) == set(rubric.load().points)


def raises_only(destination: Path) -> Path:
    """The stubs with every `raise NotImplementedError(...)` turned into `raise ValueError(...)`:
    a submission that refuses every input and computes nothing."""
    target = destination / "assignment"
    target.mkdir(parents=True)
    for stub in sorted((REPO_ROOT / "assignment").glob("*.py")):
        text = stub.read_text()
        (target / stub.name).write_text(text.replace("raise NotImplementedError(", "raise ValueError("))
    return destination


@WHOLE_SUITES
def test_a_submission_that_only_raises_value_error_scores_nothing(whole_suites, tmp_path):
    """Refusing bad input pays only where a function also computes: every function raising ValueError earns 0."""
    assert "NotImplementedError" not in (raises_only(tmp_path / "raises_only") / "assignment" / "tensors.py").read_text()
    outcomes = whole_suites["raises_only"]
    passed = sorted(key for key, outcome in outcomes.items() if outcome == "passed")
    assert not passed, f"tests that pay a submission which only raises ValueError: {passed}"
    assert set(outcomes) == set(rubric.load().points)


@WHOLE_SUITES
def test_an_independent_correct_implementation_keeps_full_marks(whole_suites):
    """examples/submissions/correct, written from the spec alone, passes every test."""
    outcomes = whole_suites["correct"]
    failed = sorted(key for key, outcome in outcomes.items() if outcome == "failed")
    assert not failed, f"a correct implementation written differently fails: {failed}"


def test_there_are_at_least_a_dozen_mutants_covering_every_problem():
    """Mutants are the suites' own test: at least 12, each problem mutated at least twice."""
    assert len(MUTANTS) >= 12
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    for module in rubric.load().titles:
        assert sum(m.module == module for m in MUTANTS) >= 2, f"problem {module} has fewer than 2 mutants"


def by_problem(mutant: variants.Variant):
    """One xdist group per problem: its mutants run on one worker, from one warm process."""
    return pytest.param(mutant, id=mutant.name, marks=pytest.mark.xdist_group(f"mutants-{mutant.module}"))


@pytest.fixture(scope="module")
def outcomes_of(tmp_path_factory):
    """mutant -> its outcomes; the first mutant of a problem asked for runs all of that problem's."""
    done: dict[str, dict[str, str]] = {}

    def outcomes(mutant: variants.Variant) -> dict[str, str]:
        if mutant.name not in done:
            batch = [m for m in MUTANTS if m.module == mutant.module]
            scratch = tmp_path_factory.mktemp(f"mutants-{mutant.module}")
            done.update(selfcheck.run_mutants(batch, scratch, variants.affected_problems))
        return done[mutant.name]

    return outcomes


@pytest.mark.parametrize("mutant", [by_problem(m) for m in MUTANTS])
def test_each_mutant_loses_points_in_its_own_problem_only(mutant, outcomes_of):
    """A subtle bug in module M costs points in problem M and in no other problem."""
    lost = selfcheck.points_lost(outcomes_of(mutant), rubric.load())
    assert set(lost) == {mutant.module}, f"{mutant.name} ({mutant.description}) lost points in {lost}"
