"""The kit's structure keeps its promises: the seam, the rubric, the trust boundary."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.core import rubric, written
from seam import MODULES, REPO_ROOT

pytestmark = pytest.mark.project

TESTS = REPO_ROOT / "tests"
SEAM_ATTRIBUTES = {"run", "each", "source", "sources", "label", "package", "root"}


def module_of(path: Path) -> str:
    name = path.stem.removeprefix("test_")
    return max((m for m in MODULES if name == m or name.startswith(m + "_")), key=len)


def suite_files():
    return sorted(TESTS.glob("public/test_*.py")) + sorted(TESTS.glob("hidden/test_*.py"))


def driver_files():
    return sorted(p for p in TESTS.glob("drivers/*.py") if p.stem != "__init__")


def oracle_files():
    return sorted(p for p in TESTS.glob("oracles/*.py") if p.stem != "__init__")


@pytest.mark.parametrize("path", suite_files() + driver_files(), ids=lambda p: str(p.relative_to(TESTS)))
def test_each_problem_reaches_only_its_own_module(path):
    """A test of problem M touches impl.M alone, so a bug in one module costs one problem."""
    module = path.stem.removesuffix("_calls") if path.parent.name == "drivers" else module_of(path)  # drivers/M.py and M_calls.py drive problem M
    touched = {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("impl", "ref")
    }
    foreign = touched - SEAM_ATTRIBUTES - {module}
    assert not foreign, f"{path.name} reaches other problems' modules: {sorted(foreign)}"


@pytest.mark.parametrize("path", suite_files() + driver_files() + oracle_files(), ids=lambda p: str(p.relative_to(TESTS)))
def test_tests_never_import_an_implementation(path):
    """Tests get code only through the impl/ref fixtures (the seam), never by import."""
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        assert not any(n.split(".")[0] in ("assignment", "solutions") for n in names), f"{path.name} imports {names}"


@pytest.mark.parametrize("path", driver_files(), ids=lambda p: p.name)
def test_drivers_import_only_what_the_sandbox_has(path):
    """Drivers run inside the worker: only the standard library, torch, numpy, einops and the checker (jaxtyping, beartype)."""
    allowed = set(sys.stdlib_module_names) | {"torch", "numpy", "einops", "jaxtyping", "beartype", "tests"}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
            assert not name.startswith("tests.") or name.startswith("tests.drivers"), f"{path.name} imports {name}"


OUR_ROOTS = ("grader", "tests", "solutions", "seam")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in `path` (`from X import y` as X.y), at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def imports_of_ours(path: Path) -> list[str]:
    """Every module of ours that `path` imports."""
    return [name for _, name in imports(path) if name.split(".")[0] in OUR_ROOTS]


def test_the_worker_imports_nothing_trusted():
    """grader/worker/ runs next to student code: it may use the wire, the seam and the drivers only."""
    allowed = ("grader.protocol.wire", "grader.worker", "seam", "tests.drivers")
    for path in sorted((REPO_ROOT / "grader" / "worker").glob("*.py")):
        for name in imports_of_ours(path):
            assert name.startswith(allowed), f"{path.name} imports {name}"


def test_the_grader_loads_the_suites_by_name_and_never_imports_them():
    """The suites, drivers and oracles are what the grader runs (pytest collects them; the worker
    imports drivers by name): no grader module imports tests/ (the reference, solutions/, is the
    grader's own), and the seam imports neither side."""
    for path in sorted((REPO_ROOT / "grader").rglob("*.py")):
        imported = [name for name in imports_of_ours(path) if name.split(".")[0] == "tests"]
        assert imported == [], f"{path.relative_to(REPO_ROOT)} imports {imported}"
    for path in sorted((REPO_ROOT / "seam").glob("*.py")):
        imported = [name for name in imports_of_ours(path) if name.split(".")[0] != "seam"]
        assert imported == [], f"{path.relative_to(REPO_ROOT)} imports {imported}"


# The grader's layers, lowest first: a module may import its own layer and those below it, never
# one above (the core never reaches up into the staff's tools). compat is a shim anyone may use.
LAYERS = ("grader.compat", "grader.protocol", "grader.worker", "grader.core", "grader.staff", "grader.commands", "grader.cli")


def layer_of(module: str) -> int | None:
    found = [i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")]
    return found[0] if found else None


def test_the_grader_imports_run_one_way_down_its_layers():
    """commands -> staff -> core -> worker -> protocol: no import runs back up a layer."""
    upward = []
    for path in sorted((REPO_ROOT / "grader").rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        mine = layer_of(module)
        for line, imported in imports(path):
            theirs = layer_of(imported)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {imported}")
    assert upward == [], "imports running up the layers " + " > ".join(reversed(LAYERS)) + ":\n" + "\n".join(upward)


def test_the_layer_check_sees_an_import_inside_a_function(tmp_path):
    """The reader counts imports in function bodies (where the upward ones used to hide)."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from grader.staff.grading.executors import grade_in_subprocess\n")
    assert imports(source) == [(2, "grader.staff.grading.executors.grade_in_subprocess")]
    assert layer_of("grader.staff.grading.executors.grade_in_subprocess") > layer_of("grader.core.canary")


@pytest.mark.parametrize("settings, want", [("", 100.0), ("test_points = 85", 85.0), ("test_points = 0", None), ('test_points = "85"', None)])
def test_the_rubric_reads_its_test_points_from_settings(tmp_path, settings, want):
    """[settings] test_points is what the tests add up to (100 when absent); anything but a positive number is refused."""
    path = tmp_path / "rubric.toml"
    path.write_text(f'[settings]\n{settings}\n[tensors]\n"public/test_tensors.py::test_x" = 1\n')
    if want is None:
        with pytest.raises(rubric.RubricError, match="test_points"):
            rubric.load(path)
    else:
        assert rubric.load(path).test_points == want and rubric.load(path).only(["tensors"]).test_points == want


@pytest.mark.parametrize("folder", ["solutions", "assignment"])
def test_jaxtyping_annotations_are_not_strings(folder):
    """`from __future__ import annotations` turns annotations into strings jaxtyping cannot check."""
    for path in sorted((REPO_ROOT / folder).glob("*.py")):
        assert "from __future__ import annotations" not in path.read_text(), path


def test_the_rubric_covers_every_test_and_adds_up_to_its_test_points():
    """Every public and hidden test function has points under its own problem; they add up to [settings] test_points."""
    the_rubric = rubric.load()
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/public", "tests/hidden", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout
    keys = {re.sub(r"\[.*", "", line.strip()).removeprefix("tests/") for line in listing.splitlines() if "::" in line}
    assert keys == set(the_rubric.points), (
        f"collected, no points: {sorted(keys - set(the_rubric.points))}; points, not collected: {sorted(set(the_rubric.points) - keys)}"
    )
    for key, module in the_rubric.problem_of.items():
        assert module_of(Path(key.split("::")[0])) == module, f"{key} is listed under [{module}]"
    assert the_rubric.total == pytest.approx(the_rubric.test_points)
    written_points = sum(written.points()[1].values())
    assert the_rubric.test_points + written_points == pytest.approx(100), "the tests and the written part add up to 100"
    for module in MODULES:
        assert any(m == module for m in the_rubric.problem_of.values()), f"problem {module} has no points"


def test_no_grader_file_is_over_400_lines():
    """Issue 21's bar: a file that grows past 400 lines is split by job, not left to grow."""
    long = {str(p.relative_to(REPO_ROOT)): n for p in sorted((REPO_ROOT / "grader").rglob("*.py")) if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
