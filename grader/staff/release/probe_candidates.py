"""Step 2 of the leak probe: the bundle's functions and classes that could stand in for an API
function, by where they are defined and by whether their signatures accept its recorded calls.

Part of the probe (see leak_probe.py): it runs in the bundle's copy and imports the bundle's modules.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path


def bundle_modules(bundle: Path) -> list[str]:
    """Importable names of the bundle's Python files, the stubs (assignment/) excepted."""
    names = []
    for path in sorted(bundle.rglob("*.py")):
        parts = path.relative_to(bundle).with_suffix("").parts
        if parts[0] == "assignment" or "__pycache__" in parts:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def candidates(bundle: Path) -> dict[str, object]:
    """{"path.py::name": callable} for every function and class a bundle module defines."""
    found = {}
    for module_name in bundle_modules(bundle):
        try:
            module = importlib.import_module(module_name)
        except BaseException as error:  # a module that cannot import offers nothing to call
            print(f"leak probe: cannot import {module_name}: {error!r}", file=sys.stderr)
            continue
        where = Path(module.__file__).resolve().relative_to(bundle.resolve()).as_posix()
        is_test_file = Path(where).name.startswith("test_")
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) != module_name:
                continue  # imported from elsewhere: counted where it is defined
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue  # fixtures, constants, strategy instances
            if is_test_file and name.startswith("test"):
                continue  # a test, which pytest runs; never a helper
            found[f"{where}::{name}"] = value
            if inspect.isclass(value):
                found.update({f"{where}::{name}.{m}": getattr(value, m) for m, raw in vars(value).items()
                              if isinstance(raw, (staticmethod, classmethod))})
    return found


def accepts(candidate, shapes: set) -> bool:
    """Whether the candidate's signature binds every recorded call's shape."""
    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):
        return False
    for positional, keywords in shapes:
        try:
            signature.bind(*[None] * positional, **{k: None for k in keywords})
        except TypeError:
            return False
    return True

