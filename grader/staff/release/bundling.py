"""The student bundle: what ships, built from the repository (see the package's docstring)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import zipfile
from pathlib import Path

from grader.compat import tomllib
from grader.staff.course import logistics
from grader.staff.course.config import Course
from seam import REPO_ROOT

HANDOUT = REPO_ROOT / "handout.md"
SUBMIT = REPO_ROOT / "student" / "submit.py"  # the bundle's `python -m submit`
QUESTIONS = REPO_ROOT / "student" / "questions.py"  # the bundle's questions.py: the written part's draws, no answers
# What the public suite needs from tests/: nothing of hidden/, data/, project/ or the rubric.
PUBLIC_FOLDERS = ("assignment", "tests/public", "tests/drivers")
PUBLIC_FILES = (
    "tests/__init__.py", "tests/conftest.py", "seam/__init__.py", "tests/hooks.py", "tests/profiles.py", "tests/strategies.py",
    "seam/own_work.py", "seam/source_index.py",  # the own-work rules, applied at the seam
    "seam/fast_tracebacks.py",  # a failure's traceback without re-parsing the test file (tests/conftest.py)
    "docs/api.md",  # the API reference the handout points at
)
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")


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
