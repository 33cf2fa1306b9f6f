"""Trusted side (staff tooling): a mutation run over the reference with mutmut 3.

The hand-written mutants (tests/data/mutants/) are bugs we thought of; mutmut makes the
ones we did not (a flipped comparison, an off-by-one, a dropped argument) and counts how
many the suites kill. Survivors are where the hidden suite is blind, or the mutation is
harmless (an error message's text): staff read the list.

How, so that the differential tests mean something: the reference is copied to
`assignment/` in a scratch folder, as a submission would be, and mutmut mutates that copy
only. The suites run with `--impl=.` on the mutated copy, while `ref` stays the untouched
solutions/ beside it. (Mutating solutions/ itself would mutate `ref` too, and every
"compare with the reference" test would pass.)

mutmut reads its settings from [tool.mutmut] in the working folder's pyproject.toml: we
write it into the scratch copy, so the repository's own pyproject.toml carries none.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.core import suites
from seam import REPO_ROOT

SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")


@dataclass
class Survivor:
    mutant: str  # mutmut's name, e.g. assignment.tensors.x_float_format__mutmut_2
    file: str  # the reference file it mutates, e.g. solutions/tensors.py
    line: int
    before: str
    after: str


@dataclass
class MutationRun:
    tool: str
    modules: list[str]
    killed: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # mutmut's own tally (timeout, suspicious, ...)
    kill_rate: float = 0.0  # killed (and timed out) / mutants tested
    survivors: list[Survivor] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    def markdown_lines(self) -> list[str]:
        lines = ["## Mutation run", "", f"{self.tool} over {', '.join(self.modules)} in {self.seconds:.0f} s"]
        if self.error:
            return lines + ["", f"could not run: {self.error}"]
        lines += ["", f"Killed {self.killed} of {self.total} mutants: {self.kill_rate:.1%}. "
                  f"mutmut's tally: {json.dumps(self.counts)}", "", "| file | line | before | after |", "|---|---|---|---|"]
        for s in self.survivors:
            lines.append(f"| {s.file} | {s.line} | `{_cell(s.before)}` | `{_cell(s.after)}` |")
        return lines


def run(modules: list[str], workers: int, progress: Callable[[str], None] = lambda message: None) -> MutationRun:
    """Mutate solutions/M.py for each M in `modules`, run the public and hidden suites of those problems."""
    try:
        version = importlib.metadata.version("mutmut")
    except importlib.metadata.PackageNotFoundError:
        return MutationRun("mutmut", modules, error="mutmut is not installed: pip install 'mutmut>=3,<4' (the staff extra)")
    result = MutationRun(f"mutmut {version}", modules)
    if not version.startswith("3."):
        result.error = f"needs mutmut 3 (its [tool.mutmut] settings and meta files), found {version}"
        return result
    progress(f"mutation run: mutmut {version} over {', '.join(modules)} (minutes per problem)")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="validate-mutmut-"))
    try:
        _prepare(workdir, modules)
        finished = _mutmut(workdir, "run", "--max-children", str(workers))
        if finished.returncode != 0:
            result.error = f"mutmut run exited {finished.returncode}: {finished.stdout[-1500:]}{finished.stderr[-1500:]}"
            return result
        _tally(workdir, result)
    finally:
        result.seconds = time.perf_counter() - started
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def mutmut_config(modules: list[str]) -> str:
    """[tool.mutmut] for the scratch copy: mutate assignment/M.py only, run M's suites on it."""
    files = ", ".join(f'"assignment/{m}.py"' for m in modules)
    tests = ", ".join(f'"{path}"' for path in suites.suite_paths(modules))  # fewer files collected, faster
    return f"""
[tool.mutmut]
source_paths = ["assignment/"]
only_mutate = [{files}]
also_copy = ["solutions/", "seam/"]  # the untouched reference (the hidden suite's `ref`), and the seam the tests import
pytest_add_cli_args = ["--impl=.", "--hypothesis-profile=grading", "-p", "no:xdist"]
pytest_add_cli_args_test_selection = [{tests}, "-m", "{' or '.join(modules)}"]
process_isolation = "forkserver"  # torch is not fork-safe once initialised
use_git_change_detection = false  # the scratch copy is no git repository
"""


def _prepare(workdir: Path, modules: list[str]) -> None:
    shutil.copytree(REPO_ROOT / "tests", workdir / "tests", ignore=shutil.ignore_patterns(*_SKIPPED_TESTS))
    shutil.copytree(REPO_ROOT / "seam", workdir / "seam", ignore=SKIP)
    shutil.copytree(REPO_ROOT / "solutions", workdir / "solutions", ignore=SKIP)
    shutil.copytree(REPO_ROOT / "solutions", workdir / "assignment", ignore=SKIP)
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    (workdir / "pyproject.toml").write_text(pyproject + mutmut_config(modules))


# The kit's own tests and caches have no business in the mutated copy.
_SKIPPED_TESTS = ("__pycache__", "*.pyc", ".hypothesis", "project")


def _mutmut(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=workdir, capture_output=True, text=True)


def _tally(workdir: Path, result: MutationRun) -> None:
    """Counts from `mutmut export-cicd-stats`, survivors from `mutmut results` and `mutmut show`."""
    _mutmut(workdir, "export-cicd-stats")
    stats = json.loads((workdir / "mutants" / "mutmut-cicd-stats.json").read_text())
    result.counts = {k: v for k, v in stats.items() if v and k not in ("killed", "total")}
    result.killed = stats["killed"] + stats.get("timeout", 0)  # a mutant that hangs the suite is caught
    result.total = stats["total"] - stats.get("skipped", 0)
    result.kill_rate = result.killed / result.total if result.total else 0.0
    listing = _mutmut(workdir, "results").stdout
    names = re.findall(r"^\s*(\S+): survived$", listing, flags=re.MULTILINE)
    result.survivors = [_survivor(workdir, name) for name in names]


def _survivor(workdir: Path, name: str) -> Survivor:
    """Where a surviving mutant sits in solutions/, from mutmut's per-function diff."""
    module, function = name.split(".")[1], name.split(".")[2]
    diff = _mutmut(workdir, "show", name).stdout.splitlines()
    before = next((l[1:] for l in diff if l.startswith("-") and not l.startswith("---")), "")
    after = next((l[1:] for l in diff if l.startswith("+") and not l.startswith("+++")), "")
    source = (REPO_ROOT / "solutions" / f"{module}.py").read_text()
    return Survivor(name, f"solutions/{module}.py", _line_of(source, function, before), before.strip(), after.strip())


def _line_of(source: str, mangled: str, before: str) -> int:
    """The line of `before` inside the function mutmut named `mangled` (x_f__mutmut_3, xǁCǁm__mutmut_1)."""
    function = mangled.split("__mutmut_")[0]
    path = function[2:].split("ǁ") if function.startswith("xǁ") else [function.removeprefix("x_")]
    node = _find_function(ast.parse(source), path)
    lines = source.splitlines()
    start, end = (node.lineno, node.end_lineno) if node else (1, len(lines))
    for number in range(start, end + 1):
        if lines[number - 1].strip() == before.strip():
            return number
    return start


def _find_function(tree: ast.AST, path: list[str]) -> ast.AST | None:
    scope = tree
    for part in path:
        scope = next((n for n in ast.iter_child_nodes(scope) if getattr(n, "name", None) == part), None)
        if scope is None:
            return None
    return scope


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")[:120]
