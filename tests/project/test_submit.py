"""The bundle's `python -m submit`: checks as the grader will, packs what the grader will grade.

A real bundle is released; in temporary copies of it the reference (ready: exit 0 and a zip) and
the stubs (not ready: exit 1, said plainly) are run through it. The reference's zip is then
graded (`--only named_dims`, the cheapest problem) as it is and with one file changed after packing: only the changed one
is flagged `manifest-mismatch`.
"""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.staff.release import bundling, leak_check
from grader.core.manifest import manifest_flags
from grader.core.machine import isolation_level
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("submit")]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "student"
    command = [sys.executable, "-m", "grader", "release", str(out), "--no-behaviour-check"]  # test_release runs it
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, f"release failed:\n{finished.stdout}\n{finished.stderr}"
    return out


def submit(bundle: Path, copy: Path, code: Path | None, *options: str) -> subprocess.CompletedProcess:
    """`python -m submit` in a copy of the bundle whose assignment/ holds `code`'s modules (None: the stubs)."""
    shutil.copytree(bundle, copy)
    if code is not None:
        for path in code.glob("*.py"):
            shutil.copyfile(path, copy / "assignment" / path.name)
    return subprocess.run([sys.executable, "-m", "submit", *options], cwd=copy, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def reference_submitted(bundle, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    copy = tmp_path_factory.mktemp("submit") / "reference"
    return submit(bundle, copy, REPO_ROOT / "solutions"), copy / "submission.zip"


def test_the_bundle_ships_submit_and_still_leaks_nothing(bundle):
    assert (bundle / "submit.py").is_file() and (bundle / "submit_api.json").is_file()
    assert leak_check.allowed(leak_check.find_leaks(bundle))[0] == []


def test_the_checked_api_is_read_off_the_stubs(bundle):
    api = json.loads((bundle / "submit_api.json").read_text())
    assert api == bundling.stub_api(REPO_ROOT / "assignment")
    assert api["strides"]["view"]["parameters"][:3] == [["shape", "POSITIONAL_OR_KEYWORD", False], ["strides", "POSITIONAL_OR_KEYWORD", False], ["new_shape", "POSITIONAL_OR_KEYWORD", False]]
    assert "Cruncher" in api["model"] and "forward" in api["model"]["Cruncher"]["methods"]
    assert set(api) == {p.stem for p in (REPO_ROOT / "assignment").glob("*.py") if p.stem != "__init__"}


def test_the_reference_is_ready_and_packed_with_its_manifest(reference_submitted):
    finished, archive = reference_submitted
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "READY" in finished.stdout and "NOT READY" not in finished.stdout
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
        manifest = json.loads(zipped.read("submission-manifest.json"))
    modules = sorted(f"assignment/{p.name}" for p in (REPO_ROOT / "solutions").glob("*.py"))
    assert names == sorted([*modules, "submission-manifest.json"])
    assert sorted(manifest["sha256"]) == modules
    for name in modules:
        assert f"  {name}" in finished.stdout, f"{name} packed but not printed"


def test_the_stubs_are_not_ready_and_say_why(bundle, tmp_path):
    finished = submit(bundle, tmp_path / "stubs", None)
    assert finished.returncode == 1
    assert "NOT READY" in finished.stdout and "FAILING PUBLIC TESTS" in finished.stdout
    assert "test_strides.py:" in finished.stdout  # the failures are named per file
    assert (tmp_path / "stubs" / "submission.zip").is_file()


def test_a_changed_name_or_signature_is_named(bundle, tmp_path):
    work = tmp_path / "changed"
    shutil.copytree(REPO_ROOT / "solutions", work)
    source = (work / "strides.py").read_text()
    changed = source.replace("def is_contiguous(", "def is_contiguous_renamed(")
    changed = changed.replace("    shape: Shape, strides: Strides, storage_offset: int, dim", "    dims: Shape, strides: Strides, storage_offset: int, dim")
    assert changed.count("dims: Shape") == 1 and "is_contiguous_renamed" in changed, "the reference changed: update this edit"
    (work / "strides.py").write_text(changed)
    finished = submit(bundle, tmp_path / "copy", work, "--skip-tests")
    assert finished.returncode == 1
    assert "assignment/strides.py has no is_contiguous" in finished.stdout
    assert "strides.narrow: parameter 1 must be `shape`" in finished.stdout


def test_manifest_flags_a_changed_added_and_missing_file(reference_submitted, tmp_path):
    _, archive = reference_submitted
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path)
    assert manifest_flags(tmp_path) == []
    (tmp_path / "assignment" / "flops.py").write_text("# changed\n")
    (tmp_path / "assignment" / "extra.py").write_text("")
    (tmp_path / "assignment" / "model.py").unlink()
    details = sorted(f["detail"] for f in manifest_flags(tmp_path))
    assert len(details) == 3 and {f["kind"] for f in manifest_flags(tmp_path)} == {"manifest-mismatch"}
    assert details[0].startswith("'assignment/model.py': in the manifest") and "flops.py: its sha256 differs" in details[2]
    (tmp_path / "submission-manifest.json").write_text("{not json")
    assert "cannot be read" in manifest_flags(tmp_path)[0]["detail"]


@pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")
def test_the_grader_grades_the_zip_and_flags_only_the_tampered_copy(reference_submitted, tmp_path):
    _, archive = reference_submitted
    submissions = tmp_path / "class"
    submissions.mkdir()
    shutil.copyfile(archive, submissions / "alice.zip")
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(submissions / "bob.zip", "w") as tampered:
        for info in source.infolist():
            data = source.read(info)
            tampered.writestr(info, data + b"\n# edited after packing\n" if info.filename == "assignment/tensors.py" else data)
    out = tmp_path / "results"
    finished = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(submissions), "--only", QUICKEST, "--skip-canary", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    alice = json.loads((out / "alice" / "results.json").read_text())
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert alice["score"] == alice["max_score"] > 0 and alice["extra_data"]["integrity_flags"] == []
    assert bob["score"] == bob["max_score"]
    assert [f["kind"] for f in bob["extra_data"]["integrity_flags"]] == ["manifest-mismatch"]
    assert "assignment/tensors.py" in bob["extra_data"]["integrity_flags"][0]["detail"]
