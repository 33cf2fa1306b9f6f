"""Trusted side (staff tooling): the student bundle, and the checks it must pass before release.

    build_bundle   assignment/ stubs + tests/public/ + what those tests import + handout.md,
                   a student pyproject.toml and README, `python -m submit` (student/submit.py)
                   with the stubs' names and signatures (stub_api): a folder and a .zip
    find_leaks     reference code, hidden tests, rubric or solution files that reached it, and
                   the formulas and answers students must derive (release_rules.toml's [[formula]])
    find_behaviour_leaks
                   any function of the bundle that can stand in for an API function (passes its
                   public tests, or gives the reference's answers): run by leak_probe.py in a
                   scratch copy of the bundle, in a fresh interpreter
    check_install  unzip it into a fresh virtual environment, install it with the student's
                   one command, and run its `pytest`: the public suite must run, and fail

Staff tooling never imports student code; the bundle's code is only parsed here (ast), and run
only by the probe, in a child process.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.compat import tomllib
from grader.staff import logistics
from grader.staff.config import Course
from tests.seam import REPO_ROOT

HANDOUT = REPO_ROOT / "handout.md"
SUBMIT = REPO_ROOT / "student" / "submit.py"  # the bundle's `python -m submit`
QUESTIONS = REPO_ROOT / "student" / "questions.py"  # the bundle's questions.py: the written part's draws, no answers
# What the public suite needs from tests/: nothing of hidden/, data/, project/ or the rubric.
PUBLIC_FOLDERS = ("assignment", "tests/public", "tests/drivers")
PUBLIC_FILES = (
    "tests/__init__.py", "tests/conftest.py", "tests/seam.py", "tests/hooks.py", "tests/profiles.py", "tests/strategies.py",
    "tests/own_work.py", "tests/source_index.py",  # the own-work rules, applied at the seam
    "docs/api.md",  # the API reference the handout points at
)
SECRET_FOLDERS = ("solutions", "tests/oracles", "tests/hidden", "tests/data", "tests/project", "grader")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
RULES = Path(__file__).with_name("release_rules.toml")  # staff's: formulas not to ship, allowed exceptions
PROBE = Path(__file__).with_name("leak_probe.py")
BEHAVIOUR_KINDS = ("passes-public-tests", "computes-answers", "behaviour-check")


# --- the bundle ------------------------------------------------------------------------------


def build_bundle(out: Path, handout: Path = HANDOUT, course: Course | None = None) -> tuple[Path, Path]:
    """Write the bundle as the folder `out` and as `out`.zip (one top-level folder); return both.

    `course` (course.toml, checked): the handout's logistics and the written part's term come from it."""
    if not handout.is_file():
        raise FileNotFoundError(f"no handout at {handout}: the bundle needs handout.md (or pass --handout)")
    course = course or Course()
    text, _ = logistics.render(handout.read_text(), course)  # a placeholder nobody fills in stops the release here
    out.mkdir(parents=True)
    for folder in PUBLIC_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, out / folder, ignore=SKIP)
    for name in PUBLIC_FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, out / name)
    (out / "handout.md").write_text(text)
    (out / "pyproject.toml").write_text(student_pyproject())
    (out / "README.md").write_text(student_readme())
    shutil.copyfile(SUBMIT, out / "submit.py")
    (out / "questions.py").write_text(questions_with_term(course.term))
    (out / "submit_api.json").write_text(json.dumps(stub_api(REPO_ROOT / "assignment"), indent=1) + "\n")
    return out, zip_folder(out)


def questions_with_term(term: str) -> str:
    """The bundle's questions.py (student/questions.py) drawing with the course's term, as `grade --config` does."""
    source = QUESTIONS.read_text()
    line = re.compile(r'^TERM = "".*$', re.MULTILINE)
    if len(line.findall(source)) != 1:
        raise ValueError(f"{QUESTIONS} must hold exactly one line `TERM = \"\"`: the release writes the term there")
    return line.sub(lambda _: f"TERM = {json.dumps(term)}  # the course's term ([course] term in course.toml)", source)


def zip_folder(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, Path(folder.name) / path.relative_to(folder))
    return archive


def stub_api(stubs: Path) -> dict:
    """What `python -m submit` checks: {module: {name: its kind, parameters, methods, fields}}.

    Read off the stubs (the spec's names and signatures, additions only), so it never drifts
    from them: public top-level functions and classes, each class's methods and annotated fields.
    """
    api = {}
    for path in sorted(stubs.glob("*.py")):
        names = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                names[node.name] = {"kind": "function", "parameters": _parameters(node.args)}
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                methods = {m.name: _parameters(m.args) for m in node.body if isinstance(m, ast.FunctionDef)}
                fields = [f.target.id for f in node.body if isinstance(f, ast.AnnAssign) and isinstance(f.target, ast.Name)]
                names[node.name] = {"kind": "class", "methods": methods, "fields": fields}
        if names:
            api[path.stem] = names
    return api


def _parameters(arguments: ast.arguments) -> list[list]:
    """[name, inspect's kind name, has a default] per parameter, in order."""
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [False] * (len(positional) - len(arguments.defaults)) + [True] * len(arguments.defaults)
    found = [[a.arg, "POSITIONAL_ONLY" if a in arguments.posonlyargs else "POSITIONAL_OR_KEYWORD", d] for a, d in zip(positional, defaults)]
    if arguments.vararg:
        found.append([arguments.vararg.arg, "VAR_POSITIONAL", False])
    found += [[a.arg, "KEYWORD_ONLY", d is not None] for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults)]
    if arguments.kwarg:
        found.append([arguments.kwarg.arg, "VAR_KEYWORD", False])
    return found


def student_pyproject() -> str:
    """The student's pyproject: our dependencies and markers; plain `pytest` runs tests/public on ./assignment."""
    ours = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    markers = [m for m in ours["tool"]["pytest"]["ini_options"]["markers"] if not m.startswith("project:")]
    return f"""[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "cs-primitives-assignment"
version = "{ours["project"]["version"]}"
description = "Assignment: PyTorch primitives and resource accounting (your code goes in assignment/)"
readme = "README.md"
requires-python = "{ours["project"]["requires-python"]}"
dependencies = [
{_toml_lines([student_torch() if d.startswith("torch") else d for d in ours["project"]["dependencies"]])}
]

[tool.setuptools.packages.find]
include = ["assignment*"]

[tool.pytest.ini_options]
testpaths = ["tests/public"]
impl_default = "."
hypothesis_profile_default = "student"
timeout = 120
markers = [
{_toml_lines(markers)}
]
"""


CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SETUP_NOTE = (
    "PyTorch comes first, its CPU build from PyTorch's CPU wheel index: a few hundred MB, where a\n"
    "plain `pip install torch` on Linux fetches a CUDA build of several GB that no problem needs."
)


def student_torch() -> str:
    """The students' torch: the range the suites were checked with, pyproject.toml's (the README,
    the handout and Gradescope's setup.sh say the same), so pip never pulls a newer torch (and its
    CUDA libraries) over the CPU build they installed first."""
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d for d in dependencies if d.startswith("torch"))


def _toml_lines(items: list[str]) -> str:
    return "\n".join(f'    "{item}",' for item in items)  # our strings hold no quotes or backslashes


def student_readme() -> str:
    ours = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    problems = [m.split(":", 1) for m in ours["tool"]["pytest"]["ini_options"]["markers"] if m.split(":")[0] not in ("cuda", "project")]
    rows = "\n".join(f"| `pytest -m {name}` | {what.strip()} |" for name, what in problems)
    return f"""# Assignment: PyTorch primitives and resource accounting

Read `handout.md` first: it says what each problem asks and why. Your code goes in
`assignment/` (one file per problem); keep every function's name and signature.

## Install (once)

In a fresh virtual environment (Python 3.10 or newer), from this folder. {SETUP_NOTE}

```bash
python -m venv .venv && source .venv/bin/activate
pip install "{student_torch()}" --index-url {CPU_INDEX}
pip install -e .
```

`pip install -e .` then adds einops, jaxtyping, beartype, numpy, pytest and hypothesis, and
keeps the torch you installed. `docs/api.md` lists every function you write, with its exact
signature.

## Test your code

```bash
pytest                 # every public test, against your assignment/
pytest -m strides      # just one problem's tests
pytest -x --pdb        # stop at the first failure and debug it
```

| command | problem |
| --- | --- |
{rows}

Every test starts failing: the stubs raise `NotImplementedError`. A failing test says what
it checked, the input, what your code returned, what was expected, and a hint. The tests
use hypothesis: a failure shows the smallest input it found.

The grader runs these public tests and more hidden ones, on your code in a sandbox: passing
every public test is a good sign, not a guarantee. Tests marked `cuda` run only where a GPU
is present.

## The written part

`python questions.py LOGIN` prints your written questions (LOGIN: your login; the napkin numbers
are drawn for you), and `python questions.py LOGIN --template > written.toml` the file you answer
them in, beside `assignment/`. `handout.md` says how they are graded.

## Submit

```bash
python -m submit       # checks names and signatures, runs the public tests, writes submission.zip
```

It says what would lose points (`NOT READY` and why) and writes `submission.zip` anyway:
`assignment/*.py`, your `written.toml` and a manifest of their contents. Hand in that .zip (or
the `assignment/` folder, or a .zip of it, with your `written.toml` beside it), with the file
names unchanged.
"""


# --- the leak check --------------------------------------------------------------------------


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
    """release_rules.toml (or `path`): [[formula]] name, pattern (a regex), why, optional ignore_case
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


# --- the behavioural check: functions of the bundle that can stand in for the API -------------


def find_behaviour_leaks(bundle: Path, repo: Path = REPO_ROOT, timeout: float = 900) -> tuple[list[Leak], dict]:
    """Every function or class of `bundle` that passes an API function's public tests in its
    place, or gives the reference's answers to them (see leak_probe.py); and the probe's figures.

    The probe runs the bundle's own code (never a student's) in a child process, in a scratch
    copy, with the reference beside it as a submission: nothing here imports the bundle.
    """
    with tempfile.TemporaryDirectory(prefix="release-probe-") as scratch:
        scratch = Path(scratch)
        copy = scratch / "bundle"
        shutil.copytree(bundle, copy, ignore=SKIP)
        shutil.copytree(repo / "solutions", scratch / "reference" / "assignment", ignore=SKIP)
        report = scratch / "report.json"
        run_probe = f"import runpy; runpy.run_path({str(PROBE)!r}, run_name='__main__')"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "HYPOTHESIS"))}
        try:
            finished = subprocess.run([sys.executable, "-c", run_probe, str(scratch / "reference"), str(report)],
                                      cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [Leak("behaviour-check", "(the bundle)", f"the probe ran past {timeout:.0f} s: nothing was checked")], {}
        if finished.returncode != 0 or not report.exists():
            tail = (finished.stdout + finished.stderr)[-2000:]
            return [Leak("behaviour-check", "(the bundle)", f"the probe failed (exit {finished.returncode}): {tail}")], {}
        found = json.loads(report.read_text())
    return [_behaviour_leak(leak) for leak in found["leaks"]], found


def _behaviour_leak(found: dict) -> Leak:
    target, tests = found["target"], len(found["tests"])
    passing = f"in place of {target} it passes that function's {tests} public test(s)"
    if found["how"] == "answers":
        detail = (f"gives the reference's answers of {target} on its {found['calls']} recorded calls from the public "
                  "tests (up to the type of the result)")
        detail += f", and {passing}" if found["passes"] else ": it computes what the students must"
        return Leak("computes-answers", found["candidate"], detail)
    return Leak("passes-public-tests", found["candidate"], passing)


# --- the fresh-install check -----------------------------------------------------------------


@dataclass
class InstallCheck:
    ok: bool = False
    message: str = ""
    exit_code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    output: str = ""


def check_install(archive: Path, scratch: Path | None = None, keep: bool = False) -> InstallCheck:
    """Unzip the bundle into a fresh venv, `pip install -e` it, run `pytest`: it must run and fail.

    PyTorch goes in first, at this machine's version (with uv where present: it reuses its
    cache), as a student's would already be; then the student's one command installs the rest
    (pip's own resolver and build isolation, as on their laptop). Never --system-site-packages.
    """
    scratch = Path(tempfile.mkdtemp(prefix="release-check-")) if scratch is None else scratch
    check = InstallCheck()
    try:
        folder = _unzip_one_folder(archive, scratch / "unzipped")
        venv = scratch / "venv"
        python = venv / "bin" / "python"
        steps = [
            ("venv", _venv_command(venv), scratch),
            ("torch", _torch_command(python), scratch),
            ("pip install -e", [str(python), "-m", "pip", "install", "-q", "-e", str(folder)], scratch),
            ("pytest", [str(python), "-m", "pytest", "-q", f"--junitxml={scratch / 'junit.xml'}"], folder),
        ]
        for name, command, cwd in steps:
            finished = _timed(check, name, command, cwd)
            if name != "pytest" and finished.returncode != 0:
                check.message = f"`{name}` failed (exit {finished.returncode})"
                check.output = (finished.stdout + finished.stderr)[-4000:]
                return check
        _judge(check, finished, scratch / "junit.xml")
        return check
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _unzip_one_folder(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    (folder,) = [p for p in target.iterdir() if p.is_dir()]
    return folder


def _venv_command(venv: Path) -> list[str]:
    """A new venv with pip in it and nothing else (uv makes the same, in a second instead of ten)."""
    uv = shutil.which("uv")
    if uv is None:
        return [sys.executable, "-m", "venv", str(venv)]
    return [uv, "venv", "-q", "--seed", "--python", sys.executable, str(venv)]


def _torch_command(python: Path) -> list[str]:
    spec = "torch==" + importlib.metadata.version("torch").split("+")[0]
    uv = shutil.which("uv")
    if uv is None:
        return [str(python), "-m", "pip", "install", "-q", spec]
    links = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True).stdout.split()
    return [uv, "pip", "install", "-q", "--python", str(python), *[a for d in links for a in ("--find-links", d)], spec]


def _timed(check: InstallCheck, name: str, command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # A clean environment: nothing of this project's interpreter or pytest run may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "HYPOTHESIS"))}
    started = time.monotonic()
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    check.seconds[name] = round(time.monotonic() - started, 1)
    return finished


def _judge(check: InstallCheck, finished: subprocess.CompletedProcess, junit: Path) -> None:
    """Stubs must fail: pytest's exit 1 (tests failed), some tests run, none erroring."""
    check.exit_code = finished.returncode
    check.output = (finished.stdout + finished.stderr)[-4000:]
    if junit.exists():
        suite = ElementTree.parse(junit).getroot()
        suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
        check.counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        check.counts["passed"] = check.counts["tests"] - check.counts["failures"] - check.counts["errors"] - check.counts["skipped"]
    if finished.returncode != 1:
        check.message = f"pytest exited {finished.returncode}, not 1 (tests ran and failed): the suite did not run as it should"
    elif not check.counts.get("tests") or check.counts.get("errors"):
        check.message = f"pytest ran {check.counts.get('tests', 0)} tests with {check.counts.get('errors', 0)} errors: expected tests that fail, none erroring"
    else:
        check.ok = True
        check.message = f"the public suite ran in a fresh venv: {check.counts['failures']} failed, {check.counts['passed']} passed, {check.counts['skipped']} skipped (stubs should fail)"
