"""grader/core/phases.py (the grader's phase timings) and bench/phases.py (the table made of them).

No sandbox, no subprocess: the recorder is driven directly, as grade.py and sandbox.py do.
"""

import importlib.util
import sys
import time
from types import SimpleNamespace

import pytest

from grader.core import phases
from seam import REPO_ROOT

pytestmark = [pytest.mark.project]

_spec = importlib.util.spec_from_file_location("bench_phases", REPO_ROOT / "bench" / "phases.py")
bench_phases = sys.modules.setdefault("bench_phases", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(bench_phases)


@pytest.fixture
def recording(tmp_path, monkeypatch):
    path = tmp_path / "profile.jsonl"
    monkeypatch.setattr(phases, "PATH", str(path))
    monkeypatch.setattr(phases, "_marks", [])
    monkeypatch.setattr(phases, "_durations", {})
    return path


def test_off_by_default_records_nothing(monkeypatch):
    """Without GRADER_PROFILE the hooks keep nothing and write nothing."""
    monkeypatch.setattr(phases, "PATH", None)
    monkeypatch.setattr(phases, "_marks", [])
    phases.mark("grade start")
    phases.add("call strides.view", 0.1)
    assert phases._marks == [] and "call strides.view" not in phases._durations
    assert phases.pytest_make_impl(SimpleNamespace(getoption=lambda name, default=None: "solutions")) is None


def test_marks_and_calls_become_rows(recording):
    """Gaps between marks are phases; calls are counted, summed and their median taken."""
    started = time.time()
    for name in ("grade start", "isolation probed", "preload start", "preloaded"):
        phases.mark(name)
    for seconds in (0.001, 0.003, 0.002):
        phases.add("call strides.view", seconds)
    phases.add("worker spawn", 0.05)
    phases.flush()
    rows, calls = bench_phases.profile(recording, started, time.time() + 1, sandboxed=True)
    assert rows["python start + grader imports"] >= 0 and rows["torch import + warm-up (preload)"] >= 0
    assert rows["  calls: count"] == 3 and rows["  calls: total"] == pytest.approx(0.006)
    assert rows["  calls: median (ms)"] == pytest.approx(2.0)
    assert rows["  first worker spawn (waits for the zygote's set-up)"] == pytest.approx(0.05)
    assert calls == {"strides.view": [0.001, 0.003, 0.002]}
    assert "scoring" not in rows  # never marked: no row rather than a made-up one


def test_in_process_impl_times_each_call_under_the_sandboxs_key(recording):
    """The --impl run's calls are recorded as "call module.function", as RemoteImpl's are."""
    config = SimpleNamespace(getoption=lambda name, default=None: "solutions", rootpath=REPO_ROOT)
    impl = phases.pytest_make_impl(config)
    assert impl.strides.contiguous_strides((2, 3)) == (3, 1)
    assert len(phases._durations["call strides.contiguous_strides"]) == 1
    assert len(phases._durations["student import"]) == 1


def test_costliest_calls_ranks_by_extra_seconds():
    table = bench_phases.costliest_calls({"a.f": [0.002] * 10, "b.g": [0.010]}, {"a.f": [0.0] * 10, "b.g": [0.009]})
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| a.f | 10 |") and rows[1].startswith("| b.g | 1 |")
