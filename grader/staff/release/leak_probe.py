"""The behavioural leak check's probe: run INSIDE a scratch copy of the student bundle.

`release.find_behaviour_leaks` copies the bundle, puts the reference beside it as a submission
(`REFERENCE/assignment/*.py`) and runs this file there in a fresh interpreter (cwd = the copy), so
that `tests` is the bundle's own and nothing of the release process is touched. It imports
nothing of `grader`: only the standard library, pytest, torch, the bundle and the probe's parts
beside it (probe_*.py), by their file names.

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

Here: the pytest session, step 4 and the report. Steps 1 to 3 are probe_recording.py,
probe_candidates.py and probe_replay.py; probe_values.py compares values without trusting them,
probe_limits.py puts a time limit on a call.

The report is JSON: {"leaks": [...], "checked": {...}, "seconds": ...}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

# Run as a script (runpy.run_path) in the bundle's copy, where `grader` may not be importable, or
# be another checkout's: the probe's parts are found by file name in this file's own folder, which
# is on sys.path only while they are imported, so that no module of the bundle resolves to a staff
# file (the bundle has no probe_*.py, whose names would resolve to these).
_HERE = str(Path(__file__).resolve().parent)
sys.path.insert(0, _HERE)
try:
    from probe_candidates import accepts, candidates
    from probe_limits import limited
    from probe_recording import Recorder, wrap_targets
    from probe_replay import Replay
finally:
    sys.path.remove(_HERE)

TEST_SECONDS = 60.0  # one test run (the reference's, or with a candidate)
PROFILE = "leak-probe"


def log(message: str) -> None:
    if os.environ.get("LEAK_PROBE_LOG"):
        print(f"leak probe: {message}", file=sys.stderr, flush=True)


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
    import seam

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
