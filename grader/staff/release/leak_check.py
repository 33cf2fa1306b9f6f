"""The leak check: nothing of the staff's side reaches the bundle, and no formula the students derive.

Structural leaks (a secret path, a file equal to a secret one, a reference or hidden-test body, a
hidden test's name, rubric keys, an import of solutions) and the [[formula]] patterns of rules.toml,
line by line; rules.toml's [[allow]] entries excuse named leaks with a reason.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from grader.compat import tomllib
from seam import REPO_ROOT

SECRET_FOLDERS = ("solutions", "tests/oracles", "tests/hidden", "tests/data", "tests/project", "grader")
RULES = Path(__file__).with_name("rules.toml")  # staff's: formulas not to ship, allowed exceptions


@dataclass(frozen=True)
class Leak:
    # reference-body, hidden-test-body, identical-file, hidden-test-name, solutions-import, rubric, secret-path,
    # formula, passes-public-tests, computes-answers, behaviour-check
    kind: str
    where: str  # the bundle file (and function)
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


def find_leaks(bundle: Path, repo: Path = REPO_ROOT, rules: Path | None = None) -> list[Leak]:
    """Everything of the staff's side that reached `bundle`, and every formula the rules name
    (empty list: nothing did). The behavioural check is separate: find_behaviour_leaks."""
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    secret_bodies = {**_bodies_of(repo, "solutions"), **hidden_test_bodies(repo)}
    leaks = []
    for path in files:
        where = path.relative_to(bundle).as_posix()
        leaks += _secret_path(where)
        leaks += _identical_file(path, where, repo)
        if path.suffix == ".py":
            leaks += _copied_bodies(path, where, secret_bodies)
            leaks += _solutions_imports(path, where)
    leaks += _hidden_names(files, bundle, repo)
    leaks += _rubric_keys(files, bundle)
    leaks += find_formulas(files, bundle, load_rules(rules)["formula"])
    return leaks


def _secret_path(where: str) -> list[Leak]:
    hits = [s for s in SECRET_FOLDERS if where == s or where.startswith(s + "/")]
    if hits or where.endswith("rubric.toml"):
        return [Leak("secret-path", where, "this file belongs to the staff's side only")]
    return []


def _identical_file(path: Path, where: str, repo: Path) -> list[Leak]:
    """A file equal to a solution, hidden-test, data or rubric file (empty files match nothing)."""
    text = path.read_bytes().strip()
    if not text:
        return []
    leaks = []
    for folder in ("solutions", "tests/hidden", "tests/data"):
        for secret in (repo / folder).rglob("*"):
            if secret.is_file() and "__pycache__" not in secret.parts and secret.read_bytes().strip() == text:
                leaks.append(Leak("identical-file", where, f"same content as {secret.relative_to(repo).as_posix()}"))
    if (repo / "tests" / "rubric.toml").read_bytes().strip() == text:
        leaks.append(Leak("identical-file", where, "same content as tests/rubric.toml"))
    return leaks


def normalised_bodies(source: str) -> dict[str, str]:
    """{qualified function name: ast.dump of its body without the docstring}, non-trivial bodies only."""
    bodies = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    body = _without_docstring(child.body)
                    if not _trivial(body):
                        bodies[name] = ast.dump(ast.Module(body=body, type_ignores=[]))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return bodies


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:]
    return body


def _trivial(body: list[ast.stmt]) -> bool:
    """A stub's body: nothing, `pass`, `...`, `raise NotImplementedError(...)`, `return CONSTANT`."""
    def stub_statement(statement: ast.stmt) -> bool:
        if isinstance(statement, ast.Pass):
            return True
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            return True
        if isinstance(statement, ast.Return):
            return statement.value is None or isinstance(statement.value, ast.Constant)
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
        return False

    return all(stub_statement(s) for s in body)


def _bodies_of(repo: Path, folder: str) -> dict[str, tuple[str, str]]:
    """{normalised body: (file, function)} for every non-trivial function under repo/folder."""
    found = {}
    for path in sorted((repo / folder).rglob("*.py")):
        where = path.relative_to(repo).as_posix()
        for name, body in normalised_bodies(path.read_text()).items():
            found.setdefault(body, (where, name))
    return found


def hidden_test_bodies(repo: Path = REPO_ROOT) -> dict[str, tuple[str, str]]:
    """Hidden test functions' bodies, less those a public test shares (those are public already).

    Helpers (oracles such as finfo_layout) may be shared by both suites: only tests count.
    """
    def tests_of(folder: str) -> dict[str, tuple[str, str]]:
        return {body: where for body, where in _bodies_of(repo, folder).items() if where[1].startswith("test")}

    public = tests_of("tests/public")
    return {body: where for body, where in tests_of("tests/hidden").items() if body not in public}


def _parsed(path: Path) -> ast.AST | None:
    try:
        return ast.parse(path.read_text())
    except SyntaxError:
        return None


def _copied_bodies(path: Path, where: str, secret_bodies: dict[str, tuple[str, str]]) -> list[Leak]:
    if _parsed(path) is None:
        return [Leak("unparsable", where, "not valid Python: it cannot be checked")]
    leaks = []
    for name, body in normalised_bodies(path.read_text()).items():
        if body in secret_bodies:
            origin, function = secret_bodies[body]
            kind = "hidden-test-body" if origin.startswith("tests/hidden") else "reference-body"
            leaks.append(Leak(kind, f"{where}::{name}", f"its body is the body of {origin}::{function}"))
    return leaks


def _solutions_imports(path: Path, where: str) -> list[Leak]:
    tree = _parsed(path)
    leaks = []
    for node in ast.walk(tree) if tree is not None else ():
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            if name.split(".")[0] == "solutions" or name.endswith(".solutions"):
                leaks.append(Leak("solutions-import", f"{where}:{node.lineno}", f"imports {name}"))
    return leaks


def hidden_test_names(repo: Path = REPO_ROOT) -> set[str]:
    """Hidden tests' function names, less those a public test shares (those are public already)."""
    def test_names(folder: Path) -> set[str]:
        return {
            node.name
            for path in folder.glob("test_*.py")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
        }

    return test_names(repo / "tests" / "hidden") - test_names(repo / "tests" / "public")


def _hidden_names(files: list[Path], bundle: Path, repo: Path) -> list[Leak]:
    names = hidden_test_names(repo)
    if not names:
        return []
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    leaks = []
    for path in files:
        for match in pattern.finditer(_text(path)):
            leaks.append(Leak("hidden-test-name", path.relative_to(bundle).as_posix(), f"names the hidden test {match.group(1)}"))
    return leaks


def _rubric_keys(files: list[Path], bundle: Path) -> list[Leak]:
    """The rubric's keys name hidden test files with their points: none may appear."""
    pattern = re.compile(r"hidden/test_\w+\.py::\w+|\[settings\]\s*hidden_visibility")
    return [
        Leak("rubric", path.relative_to(bundle).as_posix(), f"holds rubric content: {match.group(0)}")
        for path in files
        for match in pattern.finditer(_text(path))
    ]


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


# --- formulas the students derive, and the staff's exceptions --------------------------------


def load_rules(path: Path | None = None) -> dict:
    """rules.toml (or `path`): [[formula]] name, pattern (a regex), why, optional ignore_case
    and files (globs, default every file); [[allow]] kind, where (a glob), optional contains, and why."""
    path = path or RULES
    rules = tomllib.loads(path.read_text())
    formulas, allowed = rules.get("formula", []), rules.get("allow", [])
    for formula in formulas:
        missing = {"name", "pattern", "why"} - set(formula)
        if missing:
            raise ValueError(f"{path}: a [[formula]] lacks {sorted(missing)}: {formula}")
        formula["regex"] = re.compile(formula["pattern"], re.IGNORECASE if formula.get("ignore_case") else 0)
    for entry in allowed:
        missing = {"kind", "where", "why"} - set(entry)
        if missing:
            raise ValueError(f"{path}: an [[allow]] lacks {sorted(missing)}: {entry}")
    return {"formula": formulas, "allow": allowed}


def find_formulas(files: list[Path], bundle: Path, formulas: list[dict]) -> list[Leak]:
    """Each line of a shipped file where a formula's pattern matches: one leak per line and formula."""
    leaks = []
    for path in files:
        where = path.relative_to(bundle).as_posix()
        mine = [f for f in formulas if any(fnmatch.fnmatch(where, glob) for glob in f.get("files", ["*"]))]
        if not mine:
            continue
        for number, line in enumerate(_text(path).splitlines(), 1):
            for formula in mine:
                match = formula["regex"].search(line)
                if match:  # the line in the detail: an [[allow]] entry's `contains` can pick this very line
                    detail = f"{formula['name']}: {match.group(0)!r} in {line.strip()[:160]!r} ({formula['why']})"
                    leaks.append(Leak("formula", f"{where}:{number}", detail))
    return leaks


def allowed(leaks: list[Leak], rules: Path | None = None) -> tuple[list[Leak], list[Leak], list[dict]]:
    """(leaks no [[allow]] covers, leaks one covers, [[allow]] entries that cover nothing: stale)."""
    entries = load_rules(rules)["allow"]
    used: set[int] = set()
    kept, excused = [], []
    for leak in leaks:
        covering = [i for i, e in enumerate(entries) if _covers(e, leak)]
        used.update(covering)
        (excused if covering else kept).append(leak)
    return kept, excused, [e for i, e in enumerate(entries) if i not in used]


def _covers(entry: dict, leak: Leak) -> bool:
    return (entry["kind"] == leak.kind and fnmatch.fnmatch(leak.where, entry["where"])
            and entry.get("contains", "") in leak.detail)
