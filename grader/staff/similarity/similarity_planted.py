"""Staff tooling: a class with planted copies, to measure the similarity check against.

Independent work: the reference, examples/submissions/correct and partial, and three more
students' own modules (tests/data/similarity/). Planted: copies of those with names renamed,
functions reordered, dead statements inserted (each, and all three), and a student whose own
modules are mixed with two modules copied from the reference. Every module a student did not
write is the untouched stub, as students hand it in. Copies are written by ast.unparse, so
comments and layout change too.
"""

from __future__ import annotations

import ast
import random
from itertools import combinations
from pathlib import Path

from seam import MODULES, REPO_ROOT

OWN_WORK = {
    "reference": REPO_ROOT / "solutions",
    "correct": REPO_ROOT / "examples" / "submissions" / "correct" / "assignment",
    "partial": REPO_ROOT / "examples" / "submissions" / "partial" / "assignment",
    **{name: REPO_ROOT / "tests" / "data" / "similarity" / name / "assignment" for name in ("ada", "bo", "cy")},
}
# student: {module: (whose module it is, how it was disguised)}; None: all of that one's modules
PLANTED = {
    "copy_renamed": ("reference", None, ("rename",)),
    "copy_reordered": ("correct", None, ("reorder",)),
    "copy_dead_code": ("ada", None, ("dead",)),
    "copy_disguised": ("partial", None, ("rename", "reorder", "dead")),
    "copy_two_modules": ("reference", ("strides", "optimizers"), ("rename", "dead")),
}
TWO_MODULES_OWN = "cy"  # the copier of two modules wrote the rest: cy's modules (cy is not in the class)
INDEPENDENT = ("reference", "correct", "partial", "ada", "bo")


def write_class(out: Path, seed: int = 0) -> tuple[list[Path], set[frozenset[str]]]:
    """Write one folder per student under `out`; return them and the planted pairs' names."""
    origins: dict[str, dict[str, str]] = {}  # student -> module -> the author whose code it is
    for student in INDEPENDENT:
        origins[student] = _write_own(out / student, OWN_WORK[student], student)
    own = _write_own(out / "copy_two_modules", OWN_WORK[TWO_MODULES_OWN], TWO_MODULES_OWN)
    rng = random.Random(seed)
    for student, (source, modules, disguises) in PLANTED.items():
        written = own if student == "copy_two_modules" else {}
        for module in modules or _modules_of(OWN_WORK[source]):
            text = disguise((OWN_WORK[source] / f"{module}.py").read_text(), disguises, rng)
            _write(out / student, module, text)
            written[module] = source
        if student != "copy_two_modules":
            _fill_stubs(out / student, written)
        origins[student] = written
    planted = {frozenset((a, b)) for a, b in combinations(origins, 2) if _share_an_author(origins[a], origins[b])}
    return [out / s for s in origins], planted


def _share_an_author(a: dict[str, str], b: dict[str, str]) -> bool:
    return any(module in b and b[module] == author and author != "stub" for module, author in a.items())


def _modules_of(folder: Path) -> list[str]:
    return [m for m in MODULES if (folder / f"{m}.py").is_file()]


def _write_own(student: Path, folder: Path, author: str) -> dict[str, str]:
    written = {}
    for module in _modules_of(folder):
        _write(student, module, (folder / f"{module}.py").read_text())
        written[module] = author
    _fill_stubs(student, written)
    return written


def _fill_stubs(student: Path, written: dict[str, str]) -> None:
    for module in MODULES:
        if module not in written:
            _write(student, module, (REPO_ROOT / "assignment" / f"{module}.py").read_text())
            written[module] = "stub"


def _write(student: Path, module: str, text: str) -> None:
    (student / "assignment").mkdir(parents=True, exist_ok=True)
    (student / "assignment" / "__init__.py").touch()
    (student / "assignment" / f"{module}.py").write_text(text)


# --- disguises ---------------------------------------------------------------------------------


def disguise(source: str, disguises: tuple[str, ...], rng: random.Random) -> str:
    tree = ast.parse(source)
    api = _api_names(tree)
    for name in disguises:
        {"rename": _rename, "reorder": _reorder, "dead": _insert_dead}[name](tree, api, rng)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _api_names(tree: ast.Module) -> set[str]:
    """Names the spec fixes (top-level functions and classes, their methods), imports, self."""
    fixed = {"self", "cls", "super"}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            fixed |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            fixed.add(node.name)
            fixed |= {m.name for m in node.body if isinstance(m, ast.FunctionDef)}
    return fixed


def _rename(tree: ast.Module, api: set[str], rng: random.Random) -> None:
    """Every name the module defines (variables, arguments, helpers) gets another one."""
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    words = ["val", "tmp", "res", "acc", "item", "thing", "data", "num", "part", "cur"]
    mapping = {name: f"{rng.choice(words)}_{i}" for i, name in enumerate(sorted(defined - api))}
    for node in ast.walk(tree):
        for field in ("id", "arg", "name"):
            value = getattr(node, field, None)
            if isinstance(value, str) and value in mapping and not isinstance(node, ast.alias):
                setattr(node, field, mapping[value])


def _reorder(tree: ast.Module, api: set[str], rng: random.Random) -> None:
    """Top-level functions and classes in another order (other statements stay first)."""
    definitions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    rest = [n for n in tree.body if n not in definitions]
    rng.shuffle(definitions)
    tree.body = rest + definitions


DEAD = (
    "unused_count = 0",
    "if False:\n    print('debug')",
    "_ignored = len([])",
    "assert True",
    "for _ in range(0):\n    pass",
)


def _insert_dead(tree: ast.Module, api: set[str], rng: random.Random) -> None:
    """One statement that does nothing, somewhere in every function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            position = rng.randint(1 if _docstring(node) else 0, len(node.body))
            node.body.insert(position, ast.parse(rng.choice(DEAD)).body[0])


def _docstring(node: ast.FunctionDef) -> bool:
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
