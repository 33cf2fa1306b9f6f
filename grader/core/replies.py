"""Trusted side: what a submission answered during the graded suites, kept for misconception hints.

Hints are computed from replies the submission already gave to the suites' own requests (issue 17):
there is no separate probe phase the code could recognise, and no input of a hint that a test did not
also judge. To name a slip the code must answer like it on requests the tests check, which costs
those tests: a hint can then only describe what the code does.

The grader's RemoteImpl calls `Replies.record` for every plain-data call and driver run; the staff
tools record the same way in-process (`RecordingImpl`). Per request group (a function, or a
driver) and per test a bounded, seeded sample is kept: distinct requests only, the first ones whole
and later ones by reservoir sampling, so a long hypothesis search costs a fixed amount of memory and
replay, and every test that asked a group contributes some of its requests.
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

import torch

from grader.core import probes
from seam import MODULES

# Kept per request group AND per test (each test is written to catch its own slips, so each gets a share):
# driver runs are replayed on every mutant, so fewer of them.
PER_TEST = {"call": 12, "run": 3}


@dataclass
class Reply:
    problem: str
    group: str  # "strides.view", or a driver "tests.drivers.optimizers:run_optimizer"
    call: tuple  # ("call", function, args, kwargs) or ("run", driver, kwargs)
    public: bool  # asked by a public test
    value: Any = None
    error: BaseException | None = None


@dataclass
class Replies:
    """A bounded sample of (request, reply) per group; `seed` makes the sample the same for the same run.

    Cheap for the requests it does not keep (most of them, past the first few per group): the
    reservoir draw comes first, and only a kept request is fingerprinted and copied."""

    seed: int = 0
    _shares: dict[tuple, list[Reply]] = field(default_factory=dict)
    _seen: dict[str, set] = field(default_factory=dict)
    _counts: dict[tuple, int] = field(default_factory=dict)
    _draws: dict[tuple, random.Random] = field(default_factory=dict)

    def record(self, message: dict, problem: str | None, public: bool, value: Any = None, error: BaseException | None = None,
               test: str | None = None) -> None:
        group, kind = _group_of(message, problem)
        if group is None:
            return
        share = (group, (test or "").split("[")[0])  # one reservoir per group and test function
        count = self._counts[share] = self._counts.get(share, 0) + 1
        kept = self._shares.setdefault(share, [])
        limit = PER_TEST[kind]
        slot = len(kept)
        if len(kept) >= limit or count > 4 * limit:  # reservoir sampling: every request equally likely to stay
            draw = self._draws.setdefault(share, random.Random(f"{self.seed}:{share}"))
            if draw.randrange(count) >= limit:
                return  # (a group of few distinct requests asked often is sampled too: no fingerprint per call)
            slot = draw.randrange(limit) if len(kept) >= limit else len(kept)
        key = _digest((message.get("function") or message.get("driver"), message.get("args"), message.get("kwargs")))
        seen = self._seen.setdefault(group, set())
        if key in seen:
            return
        seen.add(key)
        reply = _reply_of(message, problem, public)
        reply.value, reply.error = _kept(value), error
        if slot < len(kept):
            kept[slot] = reply
        else:
            kept.append(reply)

    @property
    def groups(self) -> dict[str, list[Reply]]:
        found: dict[str, list[Reply]] = {}
        for (group, _), kept in sorted(self._shares.items()):
            found.setdefault(group, []).extend(kept)
        return found

    def of_problem(self, problem: str) -> list[Reply]:
        return [r for replies in self.groups.values() for r in replies if r.problem == problem]


def _group_of(message: dict, problem: str | None) -> tuple[str | None, str]:
    op = message.get("op")
    if op == "call" and message.get("module") in MODULES:
        return f"{message['module']}.{message['function']}", "call"
    if op == "run" and problem in MODULES and probes.comparable(message.get("driver", "")):
        return message["driver"], "run"
    return None, ""


def _reply_of(message: dict, problem: str | None, public: bool) -> Reply:
    group, kind = _group_of(message, problem)
    if kind == "call":
        call = ("call", message["function"], tuple(_kept(message.get("args", ()))), dict(_kept(message.get("kwargs", {}))))
        return Reply(message["module"], group, call, public)
    return Reply(problem, group, ("run", message["driver"], dict(_kept(message.get("kwargs", {})))), public)


def _kept(value: Any) -> Any:
    """A copy the test cannot change after the call (tensors cloned), detached from autograd."""
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001  (an uncopyable value is kept as it is: plain data from the wire)
        return value


def _digest(call: tuple) -> str:
    """Identity of a request by content (tensors by their values), so a repeated request counts once."""
    text = repr(_canonical(call)) if _holds_arrays(call) else repr(call)  # repr abbreviates arrays: hash their bytes
    return hashlib.sha256(text.encode()).hexdigest()


def _holds_arrays(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return any(_holds_arrays(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_arrays(v) for v in value.values())
    return isinstance(value, torch.Tensor) or (hasattr(value, "dtype") and hasattr(value, "tobytes"))


def _canonical(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        # Copied into a fresh flat buffer: .contiguous() may keep a size-1 dim's odd stride, which a byte view refuses.
        flat = torch.empty(t.numel(), dtype=t.dtype).copy_(t.reshape(-1))
        return ("tensor", str(t.dtype), tuple(t.shape), tuple(t.stride()), hashlib.sha256(flat.view(torch.uint8).numpy().tobytes() if t.numel() else b"").hexdigest())
    if isinstance(value, dict):
        return tuple((k, _canonical(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_canonical(v) for v in value))
    if hasattr(value, "dtype") and hasattr(value, "tobytes"):  # numpy arrays
        return ("ndarray", str(value.dtype), value.shape, hashlib.sha256(value.tobytes()).hexdigest())
    return repr(value)


# --- the same, in-process (staff tools: slips, mutants, the reference) ------------------------
class RecordingImpl:
    """An in-process implementation whose calls and driver runs are recorded like the grader's."""

    def __init__(self, inner, replies: Replies):
        self._inner, self.replies = inner, replies
        self.problem, self.public, self.test = None, False, None
        self.label = getattr(inner, "label", "recorded")

    def begin(self, problem: str, public: bool, test: str | None = None) -> None:
        self.problem, self.public, self.test = problem, public, test

    def __getattr__(self, name: str):
        if name in MODULES:
            return _RecordingModule(self, name)
        return getattr(self._inner, name)

    def run(self, driver, /, **inputs):
        message = {"op": "run", "driver": f"{driver.__module__}:{driver.__qualname__}", "kwargs": copy.deepcopy(inputs)}
        return self._recorded(message, lambda: driver(self._inner, **inputs))

    def _recorded(self, message: dict, call):
        try:
            value = call()
        except Exception as error:
            self.replies.record(message, self.problem, self.public, error=error, test=self.test)
            raise
        self.replies.record(message, self.problem, self.public, value=value, test=self.test)
        return value


class _RecordingModule:
    def __init__(self, impl: RecordingImpl, name: str):
        self._impl, self._name = impl, name

    def __getattr__(self, function: str):
        target = getattr(getattr(self._impl._inner, self._name), function)

        def call(*args, **kwargs):
            message = {"op": "call", "module": self._name, "function": function,
                       "args": copy.deepcopy(list(args)), "kwargs": copy.deepcopy(kwargs)}
            return self._impl._recorded(message, lambda: target(*args, **kwargs))

        return call
