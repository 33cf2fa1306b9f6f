"""The seam between the tests and the code under test (see shared/design/trust-boundary.md).

Tests never import `assignment` or `solutions`. They receive an *implementation*:
an object whose attributes are the eight modules (`impl.strides.view(...)`) and whose
`run(driver, **inputs)` runs one of our drivers (tests/drivers/) next to that
implementation: it builds live objects, drives the implementation's and returns what they
did. Arguments and results are plain data only (scalars, tuples, lists, dicts, strings,
dtypes, devices, tensors, numpy arrays).

What a driver returns is a claim, like a call's result: under the grader it runs beside
student code, which may rewrite it. So a test compares it only with an expectation computed
on the trusted side (tests/oracles/, the reference `ref`, PyTorch, or numbers shipped in
tests/public/expected_values.json), never with another of the implementation's own outputs
alone (saved == loaded, resumed == uninterrupted prove nothing by themselves).

This file holds the in-process backend: the code runs in the test process. The
grader supplies a sandboxed backend with the same two entry points.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

MODULES = (
    "tensors",
    "strides",
    "named_dims",
    "flops",
    "model",
    "optimizers",
    "accounting",
    "training",
)

REPO_ROOT = Path(__file__).resolve().parent.parent


class ImplementationImportError(ImportError):
    """A module of the implementation under test could not be imported."""


class InProcessImpl:
    """An implementation imported into this process, one module at a time.

    `package` is the importable name (`assignment` or `solutions`); `root` is the folder
    that holds it. The package is bound to that folder whatever sys.path says (so the
    reference and a submission can live side by side), and its __init__ is not run:
    each module is imported on its own, so one that fails to import fails only the
    tests that use it.
    """

    def __init__(self, package: str, root: Path, label: str):
        self.package = package
        self.root = Path(root)
        self.label = label
        self._modules: dict[str, ModuleType] = {}
        _bind_package(package, self.root / package)

    def __getattr__(self, name: str) -> ModuleType:
        if name not in MODULES:
            raise AttributeError(f"an implementation has no module {name!r}; it has {MODULES}")
        if name not in self._modules:
            self._modules[name] = self._import(name)
        return self._modules[name]

    def _import(self, name: str) -> ModuleType:
        qualified = f"{self.package}.{name}"
        try:
            return importlib.import_module(qualified)
        except ImportError as error:
            if getattr(error, "name", None) == qualified:
                raise ImplementationImportError(
                    f"{self.label}: {self.package}/{name}.py is missing"
                ) from error
            raise ImplementationImportError(
                f"{self.label}: {self.package}/{name}.py failed to import: {error!r}"
            ) from error
        except SyntaxError as error:  # where, in the student's words; not the path it was read from
            raise ImplementationImportError(
                f"{self.label}: {self.package}/{name}.py failed to import: {type(error).__name__}: {error.msg} (line {error.lineno})"
            ) from error
        except Exception as error:  # an exception at import time
            raise ImplementationImportError(
                f"{self.label}: {self.package}/{name}.py failed to import: {error!r}"
            ) from error

    def source(self, name: str) -> str:
        """The source text of one module (read from disk, never executed)."""
        return (self.root / self.package / f"{name}.py").read_text(encoding="utf-8", errors="replace")

    def run(self, driver: Callable[..., Any], /, **inputs: Any) -> Any:
        """Run one of our drivers against this implementation, here (a `fresh_process` driver
        too: in-process there is only the one process)."""
        return driver(self, **inputs)

    def __repr__(self) -> str:
        return f"<{self.label}>"


def resolve_impl_spec(spec: str, rootdir: Path) -> tuple[str, Path, str]:
    """`--impl` value -> (package, sys.path root, label).

    `solutions` is the reference; anything else is a folder holding `assignment/`.
    """
    if spec == "solutions":
        return "solutions", REPO_ROOT, "the reference (solutions/)"
    path = Path(spec)
    if not path.is_absolute():
        path = (rootdir / path).resolve()
    if (path / "assignment").is_dir():
        return "assignment", path, f"the submission in {path}"
    if path.name == "assignment" and path.is_dir():
        return "assignment", path.parent, f"the submission in {path.parent}"
    raise FileNotFoundError(
        f"--impl {spec}: expected a folder that holds assignment/ (or the word 'solutions'); "
        f"{path} has no assignment/ folder"
    )


def _bind_package(package: str, folder: Path) -> None:
    """Make `package` the folder `folder` in sys.modules, forgetting any other copy of it."""
    current = sys.modules.get(package)
    if current is not None and list(getattr(current, "__path__", [])) == [str(folder)]:
        return
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    module = ModuleType(package, f"the implementation in {folder}")
    module.__path__ = [str(folder)]
    module.__file__ = str(folder / "__init__.py")
    module.__package__ = package
    sys.modules[package] = module
    importlib.invalidate_caches()


def load_in_process(spec: str, rootdir: Path) -> InProcessImpl:
    """Import the implementation named by `--impl` into this process."""
    package, root, label = resolve_impl_spec(spec, rootdir)
    return InProcessImpl(package, root, label)


def load_reference() -> InProcessImpl:
    """The reference, always in this process (the trusted side)."""
    return load_in_process("solutions", REPO_ROOT)
