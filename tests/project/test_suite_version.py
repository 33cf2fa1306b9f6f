"""results.suite_version: the digest that says which suites gave a score (a regrade is due when it changes)."""

import shutil

import pytest

from grader.core import results
from seam import REPO_ROOT

pytestmark = pytest.mark.project

DECIDES_POINTS = [
    "tests/hidden/test_strides_hidden.py", "tests/public/test_tensors.py", "tests/rubric.toml", "tests/drivers/training.py",
    "solutions/flops.py", "seam/own_work.py", "seam/__init__.py", "student/questions.py", "grader/core/written_key.py",
]
GRADES_NOBODY = ["tests/project/test_layout.py", "tests/data/hostile.toml", "README.md", "grader/core/sandbox.py"]


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A copy of what the digest could read, with results.REPO_ROOT pointing at it."""
    for part in ("tests", "seam", "solutions", "student", "grader"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(results, "REPO_ROOT", tmp_path)
    return tmp_path


@pytest.mark.parametrize("relative", DECIDES_POINTS)
def test_a_change_to_anything_that_decides_points_changes_the_suite_version(checkout, relative):
    before = results.suite_version()
    with open(checkout / relative, "a") as file:
        file.write("\n# changed\n")
    assert results.suite_version() != before, f"{relative} decides points but is not in the suite version"


@pytest.mark.parametrize("relative", GRADES_NOBODY)
def test_the_kits_own_tests_and_docs_leave_the_suite_version_alone(checkout, relative):
    before = results.suite_version()
    with open(checkout / relative, "a") as file:
        file.write("\n# changed\n")
    assert results.suite_version() == before, f"{relative} grades nobody, yet it changes the suite version"
