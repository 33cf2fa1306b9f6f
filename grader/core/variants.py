"""Trusted side (staff tooling): build submissions that differ from a base in one module.

Two kinds live as test data:
- mutants (tests/data/mutants/*.toml): the reference with one subtle bug each; the suites
  must take points off in the mutated problem and nowhere else;
- alternatives (tests/data/alternatives/*.toml): the reference rewritten in another correct
  style; the suites must give them full marks (a test that does not grades a convention);
- hostile variants (tests/data/hostile.toml): the correct example with one attack or fault;
  the sandbox must contain it, flag it, and give it no point it did not earn;
- the delegating submission (tests/data/delegating/): the correct example with every function
  the handout asks students to derive handed to PyTorch; the own-work rules give those 0.

A variant edits exactly one module, so the problems it can touch are that module's and
those of modules that import it (`affected_problems`): the suites reach each problem's
module only through its own tests (tests/project/test_layout.py checks that).
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grader.compat import tomllib
from grader.core.limits import Limits
from seam import MODULES, REPO_ROOT

DATA = REPO_ROOT / "tests" / "data"
BASES = {
    "solutions": REPO_ROOT / "solutions",
    "correct": REPO_ROOT / "examples" / "submissions" / "correct" / "assignment",
    "stubs": REPO_ROOT / "assignment",  # what students start from: a forge on top of it must earn nothing
}


@dataclass(frozen=True)
class Variant:
    name: str
    module: str
    description: str
    base: str = "solutions"
    find: str | None = None
    replace: str | None = None
    append: str | None = None
    prepend: str | None = None
    replace_all: str | None = None
    expect_lost: tuple[str, ...] = ()
    expect_flags: tuple[str, ...] = ()
    cuda_only: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    def build(self, destination: Path) -> Path:
        """Write the variant as a submission folder (destination/assignment/...); return it."""
        target = destination / "assignment"
        shutil.copytree(BASES[self.base], target, ignore=shutil.ignore_patterns("__pycache__"))
        module_file = target / f"{self.module}.py"
        module_file.write_text(self.edit(module_file.read_text()))
        return destination

    def edit(self, text: str) -> str:
        if self.replace_all is not None:
            return self.replace_all
        if self.find is not None:
            count = text.count(self.find)
            if count != 1:
                raise ValueError(f"variant {self.name}: `find` occurs {count} times in {self.base}/{self.module}.py (must be once)")
            text = text.replace(self.find, self.replace or "")
        if self.prepend:
            lines = text.splitlines(keepends=True)
            at = _after_docstring_and_future(text)
            text = "".join(lines[:at]) + self.prepend.rstrip("\n") + "\n" + "".join(lines[at:])
        if self.append:
            text = text.rstrip("\n") + "\n\n" + self.append
        return text


def _after_docstring_and_future(text: str) -> int:
    """The line after the module docstring and `from __future__` imports (they must stay first)."""
    end = 0
    for node in ast.parse(text).body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if is_doc or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            end = node.end_lineno
        else:
            break
    return end


def reference_into(folder: Path) -> Path:
    """`folder` as a submission holding the reference (folder/assignment/...): the honest control."""
    shutil.copytree(BASES["solutions"], folder / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def build_delegating(destination: Path) -> Path:
    """The submission that hands every derivable function to PyTorch: the correct example with
    tests/data/delegating/<module>.py appended to each such module (later definitions win)."""
    target = destination / "assignment"
    shutil.copytree(BASES["correct"], target, ignore=shutil.ignore_patterns("__pycache__"))
    for overlay in sorted((DATA / "delegating").glob("*.py")):
        module_file = target / overlay.name
        module_file.write_text(module_file.read_text().rstrip("\n") + "\n\n\n" + overlay.read_text())
    return destination


def load_mutants() -> list[Variant]:
    variants = []
    for path in sorted((DATA / "mutants").glob("*.toml")):
        for entry in tomllib.loads(path.read_text()).get("mutant", []):
            entry.setdefault("expect_lost", [entry["module"]] if not entry.get("cuda_only") else [])
            variants.append(_variant(entry, base="solutions"))
    return variants


def load_alternatives() -> list[Variant]:
    variants = []
    for path in sorted((DATA / "alternatives").glob("*.toml")):
        for entry in tomllib.loads(path.read_text()).get("alternative", []):
            variants.append(_variant({**entry, "expect_lost": []}, base="solutions"))
    return variants


def load_hostile() -> list[Variant]:
    entries = tomllib.loads((DATA / "hostile.toml").read_text()).get("variant", [])
    return [_variant(entry, base=entry.get("base", "correct")) for entry in entries]


def limits_for(variant: Variant, limits: Limits) -> Limits:
    """`limits` with the variant's own where it names them in hostile.toml: memory_mb, or a field of
    Limits itself (scratch_mb, call_seconds, submission_seconds, ...)."""
    own = {f.name: variant.extra[f.name] for f in dataclasses.fields(Limits) if f.name in variant.extra}
    if "memory_mb" in variant.extra:
        own["memory_bytes"] = variant.extra["memory_mb"] * 2**20
    return dataclasses.replace(limits, **own)


def _variant(entry: dict, base: str) -> Variant:
    known = set(Variant.__dataclass_fields__) - {"extra", "base"}
    fields = {k: v for k, v in entry.items() if k in known}
    for key in ("expect_lost", "expect_flags"):
        fields[key] = tuple(fields.get(key, ()))
    if fields["module"] not in MODULES:
        raise ValueError(f"variant {fields['name']}: no module {fields['module']!r}")
    return Variant(base=base, extra={k: v for k, v in entry.items() if k not in known}, **fields)


def importers(base: str) -> dict[str, set[str]]:
    """module -> the modules of `base` that import it, directly or not."""
    direct: dict[str, set[str]] = {m: set() for m in MODULES}
    folder = BASES[base]
    for module in MODULES:
        path = folder / f"{module}.py"
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                for other in MODULES:
                    if other != module and name.split(".")[-1] == other:
                        direct[other].add(module)
    closure = {}
    for module in MODULES:
        seen, todo = set(), [module]
        while todo:
            for user in direct[todo.pop()] - seen:
                seen.add(user)
                todo.append(user)
        closure[module] = seen
    return closure


def affected_problems(variant: Variant) -> list[str]:
    """The problems whose scores a variant can change: its module's and its importers'."""
    return sorted({variant.module} | importers(variant.base)[variant.module])
