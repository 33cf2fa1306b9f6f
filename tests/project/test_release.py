"""`python -m grader release`: the student bundle, its leak checks, and a fresh-venv install.

The slow ones run once per module: the install test (a new venv, PyTorch from this machine's
wheel, the student's `pip install -e`, the public suite on the stubs: about a minute) and one
behavioural check (leak_probe.py, half a minute) of the real bundle with two leaks planted in it.
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

from grader.staff.release import behaviour, bundling, install_check, leak_check
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("release")]  # one worker builds the bundle once


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The real bundle, built by the real command."""
    if not bundling.HANDOUT.exists():
        pytest.fail("handout.md is missing at the repository root: the bundle ships it")
    out = tmp_path_factory.mktemp("release") / "student"
    # The behavioural check of this bundle runs once, in `probed` (with leaks planted beside it).
    command = [sys.executable, "-m", "grader", "release", str(out), "--no-behaviour-check"]
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, f"release failed:\n{finished.stdout}\n{finished.stderr}"
    return out


def test_bundle_holds_the_public_side_only(bundle):
    """The bundle has the stubs, the public suite and its support, and nothing of the staff's side."""
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for needed in ("assignment/tensors.py", "tests/public/test_strides.py", "tests/conftest.py", "seam/__init__.py", "seam/own_work.py",
                   "tests/strategies.py", "tests/drivers/training.py", "handout.md", "README.md", "pyproject.toml"):
        assert needed in files, f"{needed} is missing from the bundle"
    secret = [f for f in files if f.startswith(("solutions/", "tests/oracles/", "tests/hidden/", "tests/data/", "tests/project/", "grader/"))
              or "rubric" in f]
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
    assert leak_check.allowed(leak_check.find_leaks(bundle))[0] == []


def plant_reference_body(bundle: Path, module: str) -> str:
    """Copy one reference function's body into the bundle's stub of it; return the function's name."""
    reference = (REPO_ROOT / "solutions" / f"{module}.py").read_text()
    stub_path = bundle / "assignment" / f"{module}.py"
    stub = stub_path.read_text()
    candidates = leak_check.normalised_bodies(reference)
    stubs = {n.name: n for n in ast.parse(stub).body if isinstance(n, ast.FunctionDef)}
    for node in ast.parse(reference).body:
        if isinstance(node, ast.FunctionDef) and node.name in candidates and node.name in stubs:
            body = leak_check._without_docstring(node.body)
            ref_lines = reference.splitlines()[body[0].lineno - 1 : body[-1].end_lineno]
            target = leak_check._without_docstring(stubs[node.name].body)
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
    leaks = leak_check.allowed(leak_check.find_leaks(copy))[0]
    assert [(l.kind, l.where) for l in leaks] == [("reference-body", f"assignment/strides.py::{name}")], leaks
    assert f"solutions/strides.py::{name}" in leaks[0].detail


def test_leak_check_catches_hidden_names_solutions_imports_and_copied_files(bundle, tmp_path):
    """Each other kind of leak is found: a hidden test's name, an import of solutions, a copied file."""
    copy = tmp_path / "student"
    shutil.copytree(bundle, copy)
    hidden_name = sorted(leak_check.hidden_test_names())[0]
    with open(copy / "README.md", "a") as readme:
        readme.write(f"\nAlso see {hidden_name}.\n")
    (copy / "tests" / "helper.py").write_text("from solutions.tensors import bytes_per_element\n")
    shutil.copyfile(REPO_ROOT / "solutions" / "tensors.py", copy / "assignment" / "extra.py")
    kinds = {(l.kind, l.where.split("::")[0].split(":")[0]) for l in leak_check.find_leaks(copy)}
    assert ("hidden-test-name", "README.md") in kinds
    assert ("solutions-import", "tests/helper.py") in kinds
    assert ("identical-file", "assignment/extra.py") in kinds
    assert ("reference-body", "assignment/extra.py") in kinds


def test_release_command_fails_on_a_leak_and_removes_the_bundle(tmp_path, monkeypatch, capsys):
    """`release` exits non-zero, names the leak, and leaves no bundle to hand out by mistake."""
    if not bundling.HANDOUT.exists():
        pytest.fail("handout.md is missing at the repository root")
    build, planted = bundling.build_bundle, []

    def leaky_build(out, handout, course=None):
        folder, _ = build(out, handout, course)
        planted.append(plant_reference_body(folder, "tensors"))
        return folder, bundling.zip_folder(folder)

    monkeypatch.setattr(bundling, "build_bundle", leaky_build)
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the terminal's width: keep the leak on one line
    out = tmp_path / "student"
    assert cli.main(["release", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "RELEASE FAILED" in printed and f"assignment/tensors.py::{planted[0]}" in printed
    assert not out.exists() and not out.with_suffix(".zip").exists()


def test_bundle_installs_in_a_fresh_venv_and_its_pytest_fails_on_the_stubs(bundle):
    """Unzipped into a new venv, `pip install -e` works and `pytest` runs the public suite: all fail."""
    check = install_check.check_install(bundle.with_suffix(".zip"))
    assert check.ok, f"{check.message}\n{check.output}"
    assert check.exit_code == 1 and check.counts["errors"] == 0
    assert check.counts["failures"] >= 50 and check.counts["passed"] == 0, check.counts


# --- formulas the students derive ------------------------------------------------------------

# The spellings issue 18 found in the shipped files, each with the [[formula]] that must catch it.
SPELLINGS = [
    ("- `matmul_flops(m: int, k: int, n: int) -> int`: (m x k) @ (k x n), 2mkn.", "2mkn"),
    ('    assert out["flops"] >= repeats * 2 * m * k * n, (', "2mkn"),
    ('"Hint: a multiply-add is 2 FLOPs."', "multiply-add"),
    ("  weight gradient, plus input gradient when asked (4 x tokens x params in all).", "4 x tokens x params"),
    ("- `training_flops(num_params: float, num_tokens: float) -> float`: 6ND.", "6ND"),
    ("    return 6 * N * D", "6ND"),
    ('f"6ND would say {6 * params * num_tokens}"', "6ND"),
    ('"Hint: 6 FLOPs per parameter per token."', "per parameter per token"),
    ('"Hint: FLOPs / (GPUs x peak x MFU) gives seconds"', "GPUs x peak x MFU"),
    ("  no activation between layers. Parameters: dim² x layers + dim.", "dim² x layers + dim"),
    ("(dim^2 * num_layers + dim values)", "dim² x layers + dim"),
    ("- `cruncher_num_activations(batch_size: int, dim: int, num_layers: int) -> int`: B x dim x layers.", "B x dim x layers"),
    ("  its gradient, its master copy (None: none) and its optimizer state; the defaults give 2 + 2 + 4 + 8 = 16.", "2 + 2 + 4 + 8"),
    ("   (`flops.training_days`: about **144 days**.)", "napkin answer"),
    ("   which it returns 7 (it is linear in `num_params`): about **3.4e9** parameters.", "napkin answer"),
    ("   **496 bytes** (`accounting.training_memory`).", "napkin answer"),
]


@pytest.mark.parametrize("line, formula", SPELLINGS)
def test_formula_rules_catch_every_spelling_issue_18_found(tmp_path, line, formula):
    """Each formula or answer the issue found printed is caught by the staff's rules, where it was."""
    (tmp_path / "handout.md").write_text(f"Some prose.\n{line}\nMore prose.\n")
    leaks = leak_check.find_formulas([tmp_path / "handout.md"], tmp_path, leak_check.load_rules()["formula"])
    assert [l.where for l in leaks] == ["handout.md:2"] and formula.split()[0].lower() in leaks[0].detail.lower(), leaks


def test_formula_rules_leave_the_descriptions_alone(tmp_path):
    """What the materials say instead, and numbers a public test expects, are not formulas."""
    lines = ["- `matmul_flops(m, k, n)`: an (m x k) @ (k x n) product. Every output entry is a dot",
             "  product; count its multiplies and adds. Check your count with `FlopCounterMode` (below).",
             'assert math.isclose(got, 4e10, rel_tol=1e-9), f"expected 4e10"',
             "A (4096, 4096) bfloat16 weight takes 32 MiB; a 0-d tensor holds one element."]
    (tmp_path / "test_x.py").write_text("\n".join(lines) + "\n")
    assert leak_check.find_formulas([tmp_path / "test_x.py"], tmp_path, leak_check.load_rules()["formula"]) == []


def test_release_refuses_a_formula_and_an_allow_entry_excuses_it(bundle, tmp_path):
    """A formula planted in the handout is a leak naming file and line; an [[allow]] entry with a
    reason excuses exactly that one, and an entry that excuses nothing is reported as stale."""
    copy = tmp_path / "student"
    shutil.copytree(bundle, copy)
    with open(copy / "handout.md", "a") as handout:
        handout.write("\nHint: training_flops is 6ND.\n")
    line = len((copy / "handout.md").read_text().splitlines())
    leaks = [l for l in leak_check.allowed(leak_check.find_leaks(copy))[0] if l.where.startswith("handout.md")]
    assert [l.where for l in leaks] == [f"handout.md:{line}"] and "6ND" in leaks[0].detail
    rules = tmp_path / "rules.toml"
    rules.write_text(leak_check.RULES.read_text() + '\n[[allow]]\nkind = "formula"\nwhere = "handout.md:*"\n'
                     'contains = "training_flops is 6ND"\nwhy = "a test"\n\n'  # a piece of the very line
                     '[[allow]]\nkind = "formula"\nwhere = "docs/*"\nwhy = "excuses nothing"\n')
    kept, excused, stale = leak_check.allowed(leaks, rules)
    assert kept == [] and excused == leaks
    assert {"where": "docs/*", "kind": "formula", "why": "excuses nothing"} in stale


# --- the behavioural check -------------------------------------------------------------------

PLANTED = '''"""Planted by tests/project/test_release.py: two helpers that can stand in for the API."""
import numpy as np
import torch


def parameters_of(dim, num_layers):
    """Computes accounting.cruncher_num_parameters's answers: the probe's replay finds it."""
    return dim * (dim * num_layers + 1)


def sample_windows(dataset, batch_size, context_length, device, generator=None):
    """A get_batch whose draws are not the reference's: only its public tests can tell it passes."""
    if batch_size <= 0 or context_length <= 0 or len(dataset) < context_length + 1:
        raise ValueError("no room for a window")
    count = len(dataset) - context_length
    starts = (torch.rand(batch_size, generator=generator) * count).long().clamp(max=count - 1).tolist()
    windows = torch.from_numpy(np.stack([np.asarray(dataset[s:s + context_length + 1], dtype=np.int64) for s in starts]))
    return windows[:, :-1].to(device), windows[:, 1:].to(device)
'''


# The probe is the slow part: the tests that read it run on one xdist worker (the module's), so it runs once.
probe_group = pytest.mark.xdist_group("release")


@pytest.fixture(scope="module")
def probed(bundle, tmp_path_factory):
    """The behavioural check of the real bundle with PLANTED beside its public tests: (leaks, figures)."""
    copy = tmp_path_factory.mktemp("probed") / "student"
    shutil.copytree(bundle, copy)
    (copy / "tests" / "public" / "planted_helpers.py").write_text(PLANTED)
    return behaviour.find_behaviour_leaks(copy)


@probe_group
def test_behaviour_check_finds_a_helper_that_computes_an_answer(probed):
    """A helper giving the reference's answers on every recorded call is a leak (replay)."""
    leaks, _ = probed
    found = [l for l in leaks if l.where == "tests/public/planted_helpers.py::parameters_of"]
    assert [l.kind for l in found] == ["computes-answers"], leaks
    assert "accounting.cruncher_num_parameters" in found[0].detail


@probe_group
def test_behaviour_check_finds_a_helper_that_passes_the_public_tests(probed):
    """A helper whose answers differ from the reference's (its own random draws) but pass the
    target's public tests in its place is a leak too (the tests, run with it as get_batch)."""
    leaks, figures = probed
    found = [l for l in leaks if l.where == "tests/public/planted_helpers.py::sample_windows"]
    assert [l.kind for l in found] == ["passes-public-tests"], leaks
    assert "training.get_batch" in found[0].detail
    assert figures["reference_failures"] == [], "the reference must pass the public suite under the probe"


@probe_group
def test_real_bundle_has_no_behaviour_leaks_but_the_allowed_ones(probed):
    """Apart from the planted helpers, nothing in the bundle can stand in for the API, except what
    rules.toml excuses with a reason."""
    leaks, _ = probed
    real = [l for l in leaks if not l.where.startswith("tests/public/planted_helpers.py")]
    assert leak_check.allowed(real)[0] == []


@probe_group
def test_behaviour_check_finds_every_excused_helper_still_shipped(probed, bundle):
    """Each helper an [[allow]] entry excuses is found by the check as long as the bundle defines it:
    the exceptions are real leaks the check sees (main's oracles), not names it misses."""
    leaks, _ = probed
    entries = [e for e in leak_check.load_rules()["allow"] if e["kind"] in behaviour.BEHAVIOUR_KINDS]
    shipped = [e for e in entries if _defines(bundle, e["where"])]
    if not shipped:
        pytest.skip("no excused helper is in the bundle any more")
    for entry in shipped:
        assert any(leak_check._covers(entry, leak) for leak in leaks), f"{entry['where']} is shipped but not found"


def _defines(bundle: Path, where: str) -> bool:
    path, name = where.split("::")
    file = bundle / path
    return file.exists() and any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name
                                 for n in ast.parse(file.read_text()).body)


def test_release_command_fails_on_a_behaviour_leak_and_says_which(tmp_path, monkeypatch, capsys):
    """`release` runs the behavioural check, names what it found, exits 1 and removes the bundle;
    it also names an [[allow]] entry that excused nothing."""
    found = leak_check.Leak("passes-public-tests", "tests/public/helpers.py::oracle", "in place of flops.matmul_flops it passes")
    monkeypatch.setattr(behaviour, "find_behaviour_leaks", lambda folder: ([found], {
        "checked": {"candidates": 1, "targets": 1, "pairs": 1, "test_runs": 1}, "seconds": 0.1}))
    rules = tmp_path / "rules.toml"
    rules.write_text(leak_check.RULES.read_text() + '\n[[allow]]\nkind = "computes-answers"\nwhere = "tests/gone.py::oracle"\nwhy = "gone"\n')
    monkeypatch.setattr(leak_check, "RULES", rules)
    monkeypatch.setenv("COLUMNS", "400")
    out = tmp_path / "student"
    assert cli.main(["release", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "RELEASE FAILED" in printed and "tests/public/helpers.py::oracle" in printed and "matmul_flops" in printed
    assert "[[allow]] entry excused nothing, delete it: computes-answers tests/gone.py::oracle (gone)" in printed
    assert not out.exists() and not out.with_suffix(".zip").exists()
