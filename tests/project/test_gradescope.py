"""`python -m grader gradescope`: autograder.zip, run as Gradescope would in a simulated /autograder.

Each run grades one problem, the cheapest to grade (GRADER_ONLY=named_dims), to keep CI short.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.compat import tomllib
from grader.core import results

from grader.core import variants
from grader.staff.grading import gradescope
from grader.staff.report import shown_tests
from grader.staff.release import bundling
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("gradescope")]  # one worker builds the zip once

CORRECT = REPO_ROOT / "examples" / "submissions" / "correct"
PROBLEM = QUICKEST  # the one problem graded


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope")
    finished = subprocess.run([sys.executable, "-m", "grader", "gradescope", str(out)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return out / "autograder.zip"


def autograder_root(tmp_path: Path, autograder_zip: Path) -> Path:
    """/autograder as Gradescope lays it out: source/ unzipped, an empty submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as zipped:
        zipped.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):  # zipfile drops modes; Gradescope keeps them
        os.chmod(root / "source" / script, 0o755)
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, "GRADER_ONLY": PROBLEM}
    env.pop("PYTHONPATH", None)
    finished = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    out_file = root / "results" / "results.json"
    assert out_file.exists(), f"no results.json:\n{finished.stdout}\n{finished.stderr}"
    return finished, json.loads(out_file.read_text())


def assert_gradescope_results(data: dict) -> None:
    """The fields Gradescope reads, with the types it expects."""
    assert isinstance(data["score"], (int, float)) and isinstance(data["tests"], list) and data["tests"]
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "visibility", "output"} <= test.keys(), test
        assert test["status"] in ("passed", "failed") and test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert test["tags"] == [PROBLEM], f"GRADER_ONLY={PROBLEM} grades {PROBLEM} alone"


def test_autograder_zip_holds_scripts_grader_suites_and_reference(autograder_zip):
    """setup.sh and run_autograder at the top (executable, valid bash) beside everything grading needs."""
    with zipfile.ZipFile(autograder_zip) as zipped:
        names = set(zipped.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zipped.infolist()}
        scripts = {n: zipped.read(n).decode() for n in ("setup.sh", "run_autograder")}
    for needed in ("setup.sh", "run_autograder", "requirements.txt", "pyproject.toml", "grader/core/grade.py", "grader/worker/zygote.py",
                   "tests/public/test_tensors.py", "tests/hidden/test_tensors_hidden.py", "tests/drivers/training.py",
                   "tests/oracles/training.py", "tests/rubric.toml", "tests/conftest.py", "solutions/strides.py", "student/questions.py"):
        assert needed in names, f"{needed} is missing from autograder.zip"
    assert not any("__pycache__" in n for n in names)
    for name, text in scripts.items():
        assert modes[name] & 0o111, f"{name} is not executable in the zip"
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0, f"{name} is not valid bash"
    assert "util-linux" in scripts["setup.sh"] and "AUTOGRADER_ROOT" in scripts["run_autograder"]


def test_the_documented_local_test_gives_the_correct_submission_full_marks(tmp_path):
    """`python -m grader gradescope OUT --test SUBMISSION --only PROBLEM` (the README's one command): the
    zip runs as Gradescope would, in OUT/autograder-test/: full marks, same sandbox, same suites, and
    hidden tests named as the feedback pages name them ("hidden test N")."""
    out = tmp_path / "dist"  # given relative, from the TA's own folder
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run([sys.executable, "-m", "grader", "gradescope", "dist", "--test", str(CORRECT), "--only", PROBLEM],
                              cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    root = out / "autograder-test"
    assert f"grader: {root / 'source' / 'grader'}" in finished.stdout, "the grader must run from /autograder/source"
    data = json.loads((root / "results" / "results.json").read_text())
    assert f"score {data['score']:g} / {data['max_score']:g}" in " ".join(finished.stdout.split())
    assert_gradescope_results(data)
    assert data["score"] == data["max_score"] > 0, [t["name"] for t in data["tests"] if t["status"] == "failed"]
    assert data["extra_data"]["sandbox"]["level"] in ("root", "userns")
    assert data["extra_data"]["suite_version"] == results.suite_version(), "the zip's suites differ from the repository's"
    hidden = [t["name"] for t in data["tests"] if t["visibility"] != "visible"]
    assert hidden and all(re.fullmatch(r".+: hidden test \d+", name) for name in hidden), hidden
    assert [name.rsplit(": ", 1)[1] for name in hidden] == [n for n in shown_tests.shown_names(data["tests"]) if n.startswith("hidden")]


def test_one_torch_range_everywhere(autograder_zip):
    """pyproject.toml's torch range is the one the README and the handout tell users to install,
    the student bundle pins and Gradescope's setup.sh installs."""
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = next(d for d in dependencies if d.startswith("torch"))
    assert pinned.startswith("torch>=2.4,<"), pinned
    with zipfile.ZipFile(autograder_zip) as zipped:
        assert f'install "{pinned}"' in zipped.read("setup.sh").decode()
    for document in ("README.md", "handout.md"):
        assert f'pip install "{pinned}"' in (REPO_ROOT / document).read_text(), document
    assert bundling.student_torch() == pinned and f'pip install "{pinned}"' in bundling.student_readme()


def test_the_entry_point_writes_results_json_whatever_grading_does(tmp_path, monkeypatch, capsys):
    """A grader failure on one submission (any exception) still leaves Gradescope a results.json: a 0 that says so."""
    from grader.core import grade

    def broken(*args, **kwargs):
        raise RecursionError("a submission the grader could not handle")

    monkeypatch.setattr(grade, "grade_one", broken)
    (tmp_path / "submission").mkdir()
    assert gradescope.run(tmp_path) == 1
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data["score"] == 0 and data["tests"] == [] and "failed on this submission" in data["output"]
    assert "RecursionError" not in data["output"] and "RecursionError" in capsys.readouterr().err  # staff's log, not the student's


def test_run_autograder_grades_a_zipped_mutant_and_takes_points_off(autograder_zip, tmp_path):
    """A mutant uploaded as a .zip: unpacked, graded, and it loses points in its problem only."""
    mutant = next(m for m in variants.load_mutants() if m.module == PROBLEM)
    folder = mutant.build(tmp_path / "mutant")
    root = autograder_root(tmp_path, autograder_zip)
    with zipfile.ZipFile(root / "submission" / "submission.zip", "w") as zipped:
        for path in sorted((folder / "assignment").glob("*.py")):
            zipped.write(path, f"assignment/{path.name}")
    finished, data = run_autograder(root)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert_gradescope_results(data)
    assert 0 <= data["score"] < data["max_score"], f"mutant {mutant.name} lost no points"


def test_loose_module_files_are_gathered_into_assignment(tmp_path):
    """Uploading tensors.py, strides.py, ... without their folder still makes a submission."""
    from grader.core import intake

    upload = tmp_path / "upload"
    shutil.copytree(CORRECT / "assignment", upload)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    submission = intake.stage(upload, scratch).folder
    assert sorted(p.name for p in (submission / "assignment").glob("*.py")) == sorted(p.name for p in upload.glob("*.py"))
    assert (upload / "tensors.py").exists(), "the upload itself is never changed"
