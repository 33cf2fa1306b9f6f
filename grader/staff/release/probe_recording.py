"""Step 1 of the leak probe: wrap the reference's API functions and classes so that a run of the
public tests records which tests call each one, the shapes of its calls, and copies of some of them.

Part of the probe (see leak_probe.py): it runs in the bundle's copy and imports only the standard
library, and torch and numpy when it records a call.
"""

from __future__ import annotations

import copy
import functools
import inspect

CALLS_PER_TEST = 2  # recorded argument copies per (target, test)
CALLS_PER_TARGET = 24  # and per target in all
MAX_COPY_ELEMENTS = 1 << 20  # arguments bigger than this (a memmap dataset) are not copied


class Recorder:
    """Which tests call each target, the shapes of its calls, copies of some of them."""

    def __init__(self):
        self.current = None  # the running test's nodeid
        self.tests: dict[str, list[str]] = {}
        self.shapes: dict[str, set] = {}  # (number of positional arguments, keyword names)
        self.calls: dict[str, list] = {}  # [(args, kwargs, nodeid)], deep copies taken before the call

    def note(self, target: str, args: tuple, kwargs: dict) -> None:
        import torch

        with torch._C.DisableTorchFunction():  # the einsum rule's op recorder must not see the copies
            self._note(target, args, kwargs)

    def _note(self, target: str, args: tuple, kwargs: dict) -> None:
        self.shapes.setdefault(target, set()).add((len(args), tuple(sorted(kwargs))))
        if self.current is None:
            return
        tests = self.tests.setdefault(target, [])
        if self.current not in tests:
            tests.append(self.current)
        calls = self.calls.setdefault(target, [])
        mine = sum(1 for c in calls if c[2] == self.current)
        if mine < CALLS_PER_TEST and len(calls) < CALLS_PER_TARGET:
            copied = _copy((args, kwargs))
            if copied is not None:
                calls.append((*copied, self.current))


def _copy(value):
    """A deep copy, or None when the value is too big or cannot be copied (an open file)."""
    if _elements(value) > MAX_COPY_ELEMENTS:
        return None
    try:
        return copy.deepcopy(value)
    except Exception:
        return None


def _elements(value, depth: int = 0) -> int:
    import numpy as np
    import torch

    if depth > 4:
        return 0
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, torch.nn.Module):
        return sum(p.numel() for p in value.parameters())
    if isinstance(value, (list, tuple)):
        return sum(_elements(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_elements(v, depth + 1) for v in value.values())
    return 0


def wrap_targets(modules: dict, api: dict, recorder: Recorder) -> dict:
    """Replace each API function and (non-tuple) class in the reference modules by a recording
    wrapper; return {target: (module, name, the reference object)}."""
    targets = {}
    for module_name, names in api.items():
        module = modules[module_name]
        for name, spec in names.items():
            original = getattr(module, name, None)
            if original is None or (spec["kind"] == "class" and issubclass(original, tuple)):
                continue  # NamedTuples are data, not behaviour
            targets[f"{module_name}.{name}"] = (module, name, original)
            setattr(module, name, _recording(original, f"{module_name}.{name}", recorder))
    return targets


def _recording(original, target: str, recorder: Recorder):
    if inspect.isclass(original):
        class Recorded(original):
            def __init__(self, *args, **kwargs):
                recorder.note(target, args, kwargs)
                super().__init__(*args, **kwargs)

        Recorded.__name__, Recorded.__qualname__ = original.__name__, original.__qualname__
        Recorded.__module__ = original.__module__
        return Recorded

    @functools.wraps(original)
    def recorded(*args, **kwargs):
        recorder.note(target, args, kwargs)
        return original(*args, **kwargs)

    return recorded

