"""The seam between the tests and the code under test (the staff README's "Layout: the trust boundary is the layout").

Tests never import `assignment` or `solutions`. They receive an *implementation*:
an object whose attributes are the eight modules (`impl.strides.view(...)`), whose
`each((function, *args), ...)` makes several calls in order (in the grader: one round trip
into the sandbox) and whose `run(driver, **inputs)` runs one of our drivers (tests/drivers/)
next to that implementation: it builds live objects, drives the implementation's and returns what they
did. Arguments and results are plain data only (scalars, tuples, lists, dicts, strings,
dtypes, devices, tensors, numpy arrays).

What a driver returns is a claim, like a call's result: under the grader it runs beside
student code, which may rewrite it. So a test compares it only with an expectation computed
on the trusted side (tests/oracles/, the reference `ref`, PyTorch, or numbers shipped in
tests/public/expected_values.json), never with another of the implementation's own outputs
alone (saved == loaded, resumed == uninterrupted prove nothing by themselves).

This file holds the in-process backend: the code runs in the test process. The
grader supplies a sandboxed backend with the same three entry points.

Both backends keep the own-work rules (seam/own_work.py) at the seam: reaching a function that
hands its derivation to PyTorch (`impl.tensors.machine_epsilon` calling torch.finfo, a driver
running an `AdamW` that subclasses torch.optim.AdamW) raises OwnWorkViolation, so every test that
exercises it fails with the rule's message, on a laptop as in the grader.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from seam import own_work

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

    def __init__(self, package: str, root: Path, label: str, check_own_work: bool = True):
        self.package = package
        self.root = Path(root)
        self.label = label
        self._modules: dict[str, ModuleType] = {}
        # The grader's worker passes False: the trusted side has checked before it calls.
        self.own_work = own_work.Checker(self.sources, package) if check_own_work else None
        _bind_package(package, self.root / package)

    def __getattr__(self, name: str) -> ModuleType:
        if name not in MODULES:
            raise AttributeError(f"an implementation has no module {name!r}; it has {MODULES}")
        if name not in self._modules:
            module = self._import(name)
            self._modules[name] = module if self.own_work is None else _CheckedModule(module, name, self.own_work)
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

    def sources(self) -> dict[str, str]:
        """Every module of the package (its top-level .py files), by name: what the rules read."""
        folder = self.root / self.package
        return {path.stem: path.read_text(encoding="utf-8", errors="replace") for path in sorted(folder.glob("*.py"))}

    def run(self, driver: Callable[..., Any], /, **inputs: Any) -> Any:
        """Run one of our drivers against this implementation, here (a `fresh_process` driver
        too: in-process there is only the one process)."""
        if self.own_work is not None:
            self.own_work.check_driver(driver, inputs)
        return driver(self, **inputs)

    def each(self, *calls: tuple) -> "Answers":
        """`(impl.tensors.max_finite, fmt), (impl.tensors.smallest_normal, fmt)`: the calls, in order."""
        return answers_in_order(calls)

    def __repr__(self) -> str:
        return f"<{self.label}>"


class Answers:
    """What `impl.each(...)` returns: the calls' values in order, read like a list.

    A call that raised raises where a test reaches its answer, as the call itself would have
    (so a test's checks on the answers before it still run first); the calls after it never
    ran, and reaching their answers raises the same exception.
    """

    def __init__(self, values: list, asked: int, error: BaseException | None = None):
        self._values, self._asked, self._error = list(values), asked, error

    def __len__(self) -> int:
        return self._asked

    def __getitem__(self, index: int | slice) -> Any:
        __tracebackhide__ = True  # pytest shows the test's line, where the call's answer was read
        if isinstance(index, slice):  # answers[1:]: the same, lazily (an ascending slice)
            picked = range(self._asked)[index]
            if picked.step < 0:
                raise ValueError("answers are read in the order they were asked")
            return Answers([self._values[i] for i in picked if i < len(self._values)], len(picked), self._error)
        if not -self._asked <= index < self._asked:
            raise IndexError(index)
        index %= self._asked
        if index < len(self._values):
            return self._values[index]
        raise self._error

    def __iter__(self):
        return (self[i] for i in range(self._asked))


def answers_in_order(calls: tuple) -> Answers:
    """Each `(function, *args)` called in order until one raises (the in-process `each`)."""
    values = []
    for function, *args in calls:
        try:
            values.append(function(*args))
        except Exception as error:
            return Answers(values, len(calls), error)
    return Answers(values, len(calls))


class _CheckedModule(ModuleType):
    """A module of the implementation that checks each ruled name a test reaches (seam/own_work.py).

    Everything else passes through to the module itself, setting included (a driver may swap
    a function in for the length of a call), and `vars()` gives the module's own namespace.
    """

    def __init__(self, module: ModuleType, name: str, checker: own_work.Checker):
        super().__init__(module.__name__)
        object.__setattr__(self, "_checked", (module, name, checker))

    def __getattribute__(self, attribute: str) -> Any:
        __tracebackhide__ = True
        module, name, checker = object.__getattribute__(self, "_checked")
        if not attribute.startswith("__"):
            checker.check(name, attribute)
        return getattr(module, attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_checked")[0], attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(object.__getattribute__(self, "_checked")[0], attribute)

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_checked")[0])


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
