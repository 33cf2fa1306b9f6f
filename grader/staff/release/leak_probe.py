"""The behavioural leak check's probe: run INSIDE a scratch copy of the student bundle.

`release.find_behaviour_leaks` copies the bundle, puts the reference beside it as a submission
(`REFERENCE/assignment/*.py`) and runs this file there in a fresh interpreter (cwd = the copy), so
that `tests` is the bundle's own and nothing of the release process is touched. It imports
nothing of `grader`: only the standard library, pytest, torch and the bundle.

A function (or class) of the bundle leaks an API function F when it can stand in for F. All of it
happens in one pytest session over the bundle's public suite, on the reference:

1. record: every test runs once with each API function and class wrapped, to learn which tests
   call it and to keep deep copies of some of its calls' arguments;
2. candidates: every function and class defined at the top level of a bundle module (tests,
   fixtures and the stubs excepted) whose signature accepts every recorded call of F;
3. answers: each candidate is called on the recorded arguments next to the reference on the
   same copies, every RNG seeded alike. One that gives the reference's result, and leaves the
   arguments as the reference does, on every call, computes F's answers: a leak (a number and a
   0-d tensor, a tuple and a list, a NamedTuple and a tuple count as the same: a student can
   convert). One that raises where the reference does not (or the other way round), or returns
   something of another structure (a tuple for a number, a strategy for a tensor), cannot pass;
4. public tests: each remaining candidate replaces F in the reference's module and F's public
   tests (those that called it) run again; passing them all is a leak. This catches candidates
   whose answers are right without being the reference's own (random draws, a size-1 dim's stride).

The report is JSON: {"leaks": [...], "checked": {...}, "seconds": ...}.
"""

from __future__ import annotations

import copy
import fcntl
import functools
import importlib
import inspect
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

CALLS_PER_TEST = 2  # recorded argument copies per (target, test)
CALLS_PER_TARGET = 24  # and per target in all
MAX_COPY_ELEMENTS = 1 << 20  # arguments bigger than this (a memmap dataset) are not copied
CALL_SECONDS = 5.0  # one candidate call; a slower one counts as a miss
TEST_SECONDS = 60.0  # one test run (the reference's, or with a candidate)
PROFILE = "leak-probe"


class Timeout(BaseException):  # not an Exception: a candidate's `except Exception` cannot swallow it
    pass


def log(message: str) -> None:
    if os.environ.get("LEAK_PROBE_LOG"):
        print(f"leak probe: {message}", file=sys.stderr, flush=True)


# --- time limits, and the file descriptors a helper may close ---------------------------------


def limited(call, seconds: float):
    """("ok", value), ("raised", exception type) or ("timeout", None); the process's file
    descriptors are as they were afterwards (see FdGuard)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with FdGuard():
            return "ok", call()
    except Timeout:
        return "timeout", None
    except (Exception, SystemExit) as error:
        return "raised", type(error)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _alarm(signum, frame):
    raise Timeout()


class FdGuard:
    """Put back every file descriptor a call closed or replaced. Helpers are called with whatever
    the API functions get, and one given an int may take it for a file descriptor and close it
    (ElementTree.parse does): pytest's capture files and the report must survive that."""

    def __enter__(self):
        self.saved = {}
        for fd in _open_fds():
            try:
                self.saved[fd] = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000), _identity(fd))
            except OSError:
                pass  # the descriptor listing itself, closed already
        return self

    def __exit__(self, *exc):
        for fd, (copy_fd, identity) in self.saved.items():
            if _identity(fd) != identity:
                os.dup2(copy_fd, fd, inheritable=False)
            os.close(copy_fd)
        return False


def _open_fds() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return sorted(int(name) for name in os.listdir(folder))
        except OSError:
            continue
    return [0, 1, 2]


def _identity(fd: int):
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    return status.st_dev, status.st_ino


# --- 1. recording ------------------------------------------------------------------------------


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


# --- 2. candidates ------------------------------------------------------------------------------


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


# --- 3. answers ---------------------------------------------------------------------------------


class Opaque(str):
    """A value plain() cannot look into (a model, a function, a generator): only its kind, the
    nearest class of its type that PyTorch, NumPy or Python defines (a module, an optimizer)."""


def _kind(value) -> Opaque:
    for cls in type(value).__mro__:
        if cls is not object and cls.__module__.split(".")[0] in ("torch", "numpy", "builtins", "collections"):
            return Opaque(f"{cls.__module__}.{cls.__qualname__}")
    return Opaque("object")


def plain(value, depth: int = 0):
    """What a value says, in a form where representations a student could convert compare equal:
    numbers and 0-d tensors are floats, tensors float64 CPU tensors, tuples and lists lists;
    anything else is Opaque."""
    import numpy as np
    import torch

    if depth > 6:
        return Opaque("deep")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        tensor = torch.as_tensor(value).detach().cpu()
        if tensor.dtype == torch.bool:
            return bool(tensor) if tensor.dim() == 0 else tensor.clone()
        tensor = tensor.to(torch.float64)
        return float(tensor) if tensor.dim() == 0 else tensor
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    return _kind(value)


def _state(value):
    """The argument's state after a call: a module's tensors, an optimizer's state, else plain."""
    import torch

    if isinstance(value, torch.nn.Module):
        return plain(list(value.state_dict().values()))
    if isinstance(value, torch.optim.Optimizer):
        return plain(list(value.state.values()))
    if isinstance(value, (list, tuple)):
        return [_state(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _state(v) for k, v in value.items()}
    return plain(value)


def structure(value):
    """What a value looks like without its numbers: a number, a tensor of some shape, a list of..."""
    import torch

    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype == torch.bool)
    if isinstance(value, list):
        return ("list", tuple(structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, structure(v)) for k, v in value.items()))
    return value  # None, a str, an Opaque kind


def opaque(value) -> bool:
    if isinstance(value, Opaque):
        return True
    if isinstance(value, list):
        return any(opaque(v) for v in value)
    if isinstance(value, dict):
        return any(opaque(v) for v in value.values())
    return False


def same(a, b) -> bool:
    import torch

    if isinstance(a, list) and len(a) == 1 and isinstance(b, float):  # a one-element sequence for a number
        a = a[0]
    if isinstance(b, list) and len(b) == 1 and isinstance(a, float):
        b = b[0]
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or (a.dtype == torch.bool) != (b.dtype == torch.bool):
            return False
        if a.dtype == torch.bool:
            return bool(torch.equal(a, b))
        return bool(torch.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def seeded(call):
    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    return limited(call, CALL_SECONDS)


class Replay:
    """A candidate against the reference on the recorded calls of one target."""

    def __init__(self, reference, calls: list):
        self.reference = reference
        self.calls = calls
        self._expected = None

    def expected(self) -> list:
        """Per call: the reference's outcome and the arguments' state after it."""
        if self._expected is None:
            self._expected = []
            for args, kwargs, _ in self.calls:
                a, k = copy.deepcopy((args, kwargs))
                status, value = seeded(lambda: self.reference(*a, **k))
                self._expected.append((status, plain(value) if status == "ok" else value, _state([a, k])))
        return self._expected

    def judge(self, candidate) -> tuple[bool, bool]:
        """(could pass its tests: raises where the reference raises, and returns something of the
        same structure elsewhere; computes its answers: on every call where the reference returns,
        the same value and the arguments left alike, the reference's values not all one constant).

        Where the reference raises, any behaviour still computes: a student adds the check."""
        could_pass = computes = True
        answers = set()
        for (args, kwargs, _), (status, value, after) in zip(self.calls, self.expected()):
            if status == "timeout":
                continue  # the reference itself is too slow here: this call says nothing
            a, k = copy.deepcopy((args, kwargs))
            got_status, got = seeded(lambda: candidate(*a, **k))
            if status == "raised":
                could_pass &= got_status == "raised" and issubclass(got, value)
                continue
            if got_status != "ok":
                return False, False
            got = plain(got)
            if structure(got) != structure(value) and not same(got, value):
                return False, False
            if value is None or opaque(value) or not same(got, value) or not same(_state([a, k]), after):
                computes = False
            else:
                answers.add(repr(value))
        return could_pass, computes and len(answers) > 1


# --- 4. the session -----------------------------------------------------------------------------


class Probe:
    """The pytest plugin that is the probe: it answers `pytest_make_impl` with the reference and
    replaces pytest's run loop with steps 1 to 4 above."""

    def __init__(self, bundle: Path, impl, api: dict):
        self.bundle, self.impl, self.api = bundle, impl, api
        self.recorder = Recorder()
        self.result: dict | None = None

    def pytest_make_impl(self, config):
        return self.impl

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        started = time.monotonic()
        if session.testsfailed:
            self.result = {"error": f"{session.testsfailed} collection error(s) in the public suite"}
            return True
        items = {item.nodeid: item for item in session.items}
        modules = {name: getattr(self.impl, name) for name in self.api}
        targets = wrap_targets(modules, self.api, self.recorder)
        try:
            baseline = {nodeid: self.run(item) for nodeid, item in items.items()}
        finally:
            for module, name, original in targets.values():
                setattr(module, name, original)
        log(f"recorded {len(items)} tests in {time.monotonic() - started:.1f} s")
        leaks, checked = self.hunt(targets, items, baseline)
        self.result = {
            "leaks": leaks, "checked": checked, "seconds": round(time.monotonic() - started, 1),
            "reference_failures": sorted(n for n, o in baseline.items() if o not in ("passed", "skipped")),
        }
        return True

    def run(self, item) -> str:
        """One test, with a time limit: "passed", "failed" or "skipped"."""
        self.recorder.current = item.nodeid
        try:
            status, reports = limited(lambda: runtestprotocol(item, nextitem=None, log=False), TEST_SECONDS)
        finally:
            self.recorder.current = None
        if status != "ok":
            return "failed"
        outcomes = {r.outcome for r in reports}
        return "failed" if "failed" in outcomes else "skipped" if "skipped" in outcomes else "passed"

    def hunt(self, targets: dict, items: dict, baseline: dict) -> tuple[list, dict]:
        found = candidates(self.bundle)
        leaks, checked = [], {"candidates": len(found), "targets": 0, "pairs": 0, "test_runs": 0}
        for target, (module, name, original) in sorted(targets.items()):
            tests = [t for t in self.recorder.tests.get(target, []) if baseline.get(t) == "passed"]
            if not tests:
                continue
            checked["targets"] += 1
            replay = Replay(original, self.recorder.calls.get(target, []))
            for where, candidate in sorted(found.items()):
                if not accepts(candidate, self.recorder.shapes[target]):
                    continue
                checked["pairs"] += 1
                could_pass, computes = replay.judge(candidate) if replay.calls else (True, False)
                if not (computes or could_pass):
                    continue
                checked["test_runs"] += could_pass
                passes = could_pass and self.passes(module, name, original, candidate, [items[t] for t in tests])
                if computes or passes:
                    leaks.append({"target": target, "candidate": where, "how": "answers" if computes else "public-tests",
                                  "calls": len(replay.calls), "tests": tests, "passes": passes})
        return leaks, checked

    def passes(self, module, name: str, original, candidate, items: list) -> bool:
        """Whether every one of `items` passes (some may skip, not all) with `candidate` as F."""
        clock = time.monotonic()
        setattr(module, name, candidate)
        try:
            outcomes = []
            for item in items:
                outcomes.append(self.run(item))
                if outcomes[-1] == "failed":
                    break
        finally:
            setattr(module, name, original)
        log(f"{module.__name__}.{name} <- {candidate!r}: {outcomes} in {time.monotonic() - clock:.2f} s")
        return "passed" in outcomes and all(o in ("passed", "skipped") for o in outcomes)


def register_profile() -> None:
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        PROFILE, derandomize=True, database=None, deadline=None, max_examples=10, print_blob=False,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is enough
        suppress_health_check=list(HealthCheck),
    )


def probe(bundle: Path, reference: Path) -> dict:
    sys.path.insert(0, str(bundle))
    from tests import seam

    register_profile()
    api = json.loads((bundle / "submit_api.json").read_text())
    plugin = Probe(bundle, seam.load_in_process(str(reference), bundle), api)
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:timeout", f"--hypothesis-profile={PROFILE}",
            "-W", "ignore", "tests/public"]
    pytest.main(args, plugins=[plugin])
    return plugin.result or {"error": "the public suite did not run"}


def main(argv: list[str]) -> int:
    bundle, reference, report = Path.cwd(), Path(argv[0]), Path(argv[1])
    result = probe(bundle, reference)
    report.write_text(json.dumps(result, indent=1))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
