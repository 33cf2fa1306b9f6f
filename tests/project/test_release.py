"""`python -m grader release`: the student bundle, its leak check, and a fresh-venv install.

The install test is the slow one (a new venv, PyTorch from this machine's wheel, the student's
`pip install -e`, the public suite on the stubs): about a minute, run once per session.
"""

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader import cli

from grader.staff import release
from tests.seam import REPO_ROOT

pytestmark = pytest.mark.project


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The real bundle, built by the real command."""
    if not release.HANDOUT.exists():
        pytest.fail("handout.md is missing at the repository root: the bundle ships it")
    out = tmp_path_factory.mktemp("release") / "student"
    finished = subprocess.run([sys.executable, "-m", "grader", "release", str(out)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, f"release failed:\n{finished.stdout}\n{finished.stderr}"
    return out


def test_bundle_holds_the_public_side_only(bundle):
    """The bundle has the stubs, the public suite and its support, and nothing of the staff's side."""
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for needed in ("assignment/tensors.py", "tests/public/test_strides.py", "tests/conftest.py", "tests/seam.py",
                   "tests/strategies.py", "tests/scenarios/training.py", "handout.md", "README.md", "pyproject.toml"):
        assert needed in files, f"{needed} is missing from the bundle"
    secret = [f for f in files if f.startswith(("solutions/", "tests/hidden/", "tests/data/", "tests/project/", "grader/")) or "rubric" in f]
    assert secret == [], f"staff files in the bundle: {secret}"
    with zipfile.ZipFile(bundle.with_suffix(".zip")) as zipped:
        names = zipped.namelist()
    assert {n.split("/")[0] for n in names} == {"student"}, "the .zip must unpack into one folder"
    assert sorted(n.split("/", 1)[1] for n in names) == sorted(files), "the .zip and the folder differ"


def test_student_pyproject_runs_the_public_suite_on_their_code(bundle):
    """Plain `pytest` in the bundle: tests/public, on ./assignment, with the student hypothesis profile."""
    project = tomllib.loads((bundle / "pyproject.toml").read_text())
    ini = project["tool"]["pytest"]["ini_options"]
    assert ini["testpaths"] == ["tests/public"] and ini["impl_default"] == "." and ini["hypothesis_profile_default"] == "student"
    assert any(m.startswith("strides:") for m in ini["markers"]) and not any(m.startswith("project:") for m in ini["markers"])
    dependencies = " ".join(project["project"]["dependencies"])
    for needed in ("torch", "einops", "jaxtyping", "beartype", "numpy", "pytest", "hypothesis", "pytest-timeout"):
        assert needed in dependencies, f"{needed} is not a dependency of the student bundle"
    readme = (bundle / "README.md").read_text()
    assert "pip install -e ." in readme and "pytest -m strides" in readme


def test_real_bundle_has_no_leaks(bundle):
    """The release passed its leak check; checked again here so a failure names the leaks."""
    assert release.find_leaks(bundle) == []


def plant_reference_body(bundle: Path, module: str) -> str:
    """Copy one reference function's body into the bundle's stub of it; return the function's name."""
    reference = (REPO_ROOT / "solutions" / f"{module}.py").read_text()
    stub_path = bundle / "assignment" / f"{module}.py"
    stub = stub_path.read_text()
    candidates = release.normalised_bodies(reference)
    stubs = {n.name: n for n in ast.parse(stub).body if isinstance(n, ast.FunctionDef)}
    for node in ast.parse(reference).body:
        if isinstance(node, ast.FunctionDef) and node.name in candidates and node.name in stubs:
            body = release._without_docstring(node.body)
            ref_lines = reference.splitlines()[body[0].lineno - 1 : body[-1].end_lineno]
            target = release._without_docstring(stubs[node.name].body)
            lines = stub.splitlines()
            lines[target[0].lineno - 1 : target[-1].end_lineno] = ref_lines
            stub_path.write_text("\n".join(lines) + "\n")
            return node.name
    raise AssertionError(f"no non-trivial reference function of {module} has a stub")


def test_leak_check_names_a_planted_reference_body(bundle, tmp_path):
    """A reference body pasted into a stub is a leak that names the stub and its origin."""
    copy = tmp_path / "student"
    shutil.copytree(bundle, copy)
    name = plant_reference_body(copy, "strides")
    leaks = release.find_leaks(copy)
    assert [(l.kind, l.where) for l in leaks] == [("reference-body", f"assignment/strides.py::{name}")], leaks
    assert f"solutions/strides.py::{name}" in leaks[0].detail


def test_leak_check_catches_hidden_names_solutions_imports_and_copied_files(bundle, tmp_path):
    """Each other kind of leak is found: a hidden test's name, an import of solutions, a copied file."""
    copy = tmp_path / "student"
    shutil.copytree(bundle, copy)
    hidden_name = sorted(release.hidden_test_names())[0]
    with open(copy / "README.md", "a") as readme:
        readme.write(f"\nAlso see {hidden_name}.\n")
    (copy / "tests" / "helper.py").write_text("from solutions.tensors import bytes_per_element\n")
    shutil.copyfile(REPO_ROOT / "solutions" / "tensors.py", copy / "assignment" / "extra.py")
    kinds = {(l.kind, l.where.split("::")[0].split(":")[0]) for l in release.find_leaks(copy)}
    assert ("hidden-test-name", "README.md") in kinds
    assert ("solutions-import", "tests/helper.py") in kinds
    assert ("identical-file", "assignment/extra.py") in kinds
    assert ("reference-body", "assignment/extra.py") in kinds


def test_release_command_fails_on_a_leak_and_removes_the_bundle(tmp_path, monkeypatch, capsys):
    """`release` exits non-zero, names the leak, and leaves no bundle to hand out by mistake."""
    if not release.HANDOUT.exists():
        pytest.fail("handout.md is missing at the repository root")
    build, planted = release.build_bundle, []

    def leaky_build(out, handout, course=None):
        folder, _ = build(out, handout, course)
        planted.append(plant_reference_body(folder, "tensors"))
        return folder, release.zip_folder(folder)

    monkeypatch.setattr(release, "build_bundle", leaky_build)
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the terminal's width: keep the leak on one line
    out = tmp_path / "student"
    assert cli.main(["release", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "RELEASE FAILED" in printed and f"assignment/tensors.py::{planted[0]}" in printed
    assert not out.exists() and not out.with_suffix(".zip").exists()


def test_bundle_installs_in_a_fresh_venv_and_its_pytest_fails_on_the_stubs(bundle):
    """Unzipped into a new venv, `pip install -e` works and `pytest` runs the public suite: all fail."""
    check = release.check_install(bundle.with_suffix(".zip"))
    assert check.ok, f"{check.message}\n{check.output}"
    assert check.exit_code == 1 and check.counts["errors"] == 0
    assert check.counts["failures"] >= 50 and check.counts["passed"] == 0, check.counts
