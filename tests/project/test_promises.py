"""The promise table is complete: every promise the student-facing text makes has a test (issue 19).

tests/data/promises.toml keys each promise of handout.md, docs/api.md and the stubs' docstrings by
an id, quotes it, and names its tests; tests/project/promises.py does the matching. A new sentence
that looks like a promise fails here until it is in the table (with a test) or marked as prose;
an edited sentence fails here when its quote no longer matches; a renamed test fails here too.
"""

import ast

import pytest
from hypothesis import settings

from grader.core import rubric
from grader.core.plugin import Case
from tests.project import promises
from seam import REPO_ROOT

pytestmark = pytest.mark.project


@pytest.fixture(scope="module")
def table():
    return promises.load()


def _project_test_functions() -> set[str]:
    found = set()
    for path in sorted((REPO_ROOT / "tests" / "project").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        found |= {f"project/{path.name}::{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return found


def test_every_candidate_promise_sentence_is_in_the_table(table):
    """A sentence that looks like a promise is quoted by a promise (with its tests) or by a prose entry (with why)."""
    missing = promises.uncovered(*table)
    assert not missing, (
        f"{len(missing)} promise-like sentence(s) not in {promises.TABLE.name} (run `python -m tests.project.promises`):\n"
        + "\n".join(f"  {s.source}: {s.text[:160]}" for s in missing[:20])
    )


def test_every_quote_still_matches_its_source(table):
    """Quotes survive small edits (word-level, fuzzy); a quote that matches nothing means the promise moved or went."""
    stale = promises.stale(*table)
    assert not stale, "quotes no sentence matches any more (`python -m tests.project.promises --stale`):\n" + "\n".join(f"  {q}" for q in stale)


def test_every_named_test_exists_and_each_promise_has_a_suite_test(table):
    """Each promise names tests that exist; every promise about the assignment's code has a public or hidden one."""
    suites, project = promises.test_functions(), _project_test_functions()
    listed, ids = [], set()
    for promise in table[0]:
        assert promise.id not in ids, f"promise id {promise.id} is used twice"
        ids.add(promise.id)
        assert promise.tests, f"promise {promise.id} names no test"
        listed += [(promise.id, t) for t in promise.tests if t not in suites | project]
        if not promise.id.startswith("general."):
            assert any(t in suites for t in promise.tests), f"promise {promise.id} has no public or hidden test"
    assert not listed, "tests named in the table that do not exist:\n" + "\n".join(f"  {i}: {t}" for i, t in listed)


def test_matching_survives_a_reworded_clause_but_not_a_rewritten_sentence():
    """The matcher's promise: small edits keep a quote, a rewrite does not."""
    sentence = promises.Sentence("handout.md", "A parameter whose `.grad` is None is skipped entirely: it does not move (no weight decay either) and gets no state.")
    assert promises.matches("A parameter whose .grad is None is skipped entirely", sentence)
    assert promises.matches("a parameter whose grad is None is skipped completely: it does not move", sentence)
    assert not promises.matches("parameters without gradients are left alone by every optimizer", sentence)
    assert not promises.matches("weight decay applies to every parameter", sentence)


# --- two promises of the handout about grading itself, checked here -------------------------


def test_tests_skipped_without_cuda_count_neither_way():
    """'Tests on CUDA ... are skipped (neither earned nor lost)': a test whose every case was skipped scores 0 of 0."""
    the_rubric = rubric.load()
    key = next(k for k in the_rubric.points if k.startswith("hidden/test_tensors_hidden.py"))
    others = [Case(f"tests/{k}[cpu]", k, the_rubric.problem_of[k], "", False, "passed") for k in the_rubric.points if k != key]
    skipped = Case(f"tests/{key}[cuda]", key, the_rubric.problem_of[key], "", False, "skipped", message="no CUDA device here")
    scores = {s.key: s for s in rubric.score(the_rubric, [*others, skipped])}
    assert (scores[key].status, scores[key].score, scores[key].max_score) == ("skipped", 0.0, 0.0)
    assert sum(s.max_score for s in scores.values()) == pytest.approx(the_rubric.test_points - the_rubric.points[key])


def test_the_grading_profile_is_derandomized_with_60_examples():
    """'The grader uses the grading profile: derandomized (the same examples every run), 60 examples a test, no deadline.'"""
    grading = settings.get_profile("grading")
    assert (grading.derandomize, grading.max_examples, grading.deadline, grading.database) == (True, 60, None, None)
