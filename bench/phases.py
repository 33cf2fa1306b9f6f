"""Where the sandboxed grade's seconds go, phase by phase, beside the in-process run's
(`python bench/isolation.py --profile`).

Each run is started with GRADER_PROFILE=FILE: the grader (grader/core/phases.py) appends its
marks (moments) and durations (each worker spawn, each call's round trip, each test's
setup/call/teardown) there; this file turns them into rows. Phases are the gaps between
consecutive marks, the first measured from the moment the bench started the process.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

# (row label, from mark, to mark): None means the bench's own start / end of the process.
SANDBOXED = [
    ("python start + grader imports", None, "grade start"),
    ("isolation probe (unshare true)", "grade start", "isolation probed"),
    ("work dir + submission copy", "isolation probed", "preload start"),
    ("torch import + warm-up (preload)", "preload start", "preloaded"),
    ("zygote fork", "preloaded", "zygote forked"),
    ("rest of Sandbox.start", "zygote forked", "sandbox started"),
    ("pytest import + conftest + configure", "sandbox started", "pytest configured"),
    ("configure -> collection", "pytest configured", "collection start"),
    ("collection (test modules, reference)", "collection start", "collection done"),
    ("collection -> test loop", "collection done", "tests start"),
    ("test loop", "tests start", "tests done"),
    ("pytest summary (sessionfinish)", "tests done", "pytest unconfigured"),
    ("pytest unconfigure -> return", "pytest unconfigured", "pytest done"),
    ("scoring", "pytest done", "scored"),
    ("sandbox close (kill, rm work dir)", "scored", "sandbox closed"),
    ("results.json", "sandbox closed", "results written"),
    ("process exit", "results written", None),
]
IN_PROCESS = [
    ("python start + pytest import", None, "grader.core.phases imported"),
    ("conftest (torch import) + configure", "grader.core.phases imported", "pytest configured"),
    ("configure -> collection", "pytest configured", "collection start"),
    ("collection (test modules, reference)", "collection start", "collection done"),
    ("collection -> test loop", "collection done", "tests start"),
    ("test loop", "tests start", "tests done"),
    ("pytest summary (sessionfinish)", "tests done", "pytest unconfigured"),
    ("process exit", "pytest unconfigured", None),
]


def read(path: Path) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The marks (name -> first time) and durations (name -> all values) in one profile file."""
    marks: dict[str, float] = {}
    durations: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if "mark" in entry:
            marks.setdefault(entry["mark"], entry["t"])
        else:
            durations.setdefault(entry["durations"], []).extend(entry["seconds"])
    return marks, durations


def phase_rows(rows, marks: dict[str, float], started: float, ended: float) -> dict[str, float]:
    """Seconds of each phase whose two ends were both marked."""
    moments = {None: None, **marks}
    out = {}
    for label, begin, end in rows:
        t0 = started if begin is None else moments.get(begin)
        t1 = ended if end is None else moments.get(end)
        if t0 is not None and t1 is not None:
            out[label] = t1 - t0
    return out


def detail_rows(durations: dict[str, list[float]]) -> dict[str, float]:
    """Inside the test loop: worker spawns, calls (round trips, or in-process the calls
    themselves: the student code's share), pytest's per-test phases."""
    out = {}
    spawns = durations.get("worker spawn", [])
    if spawns:
        out["  first worker spawn (waits for the zygote's set-up)"] = spawns[0]
        out["  other worker spawns: count"] = len(spawns) - 1
        out["  other worker spawns: total"] = sum(spawns[1:])
    if durations.get("student import"):
        out["  student module imports (in-process)"] = sum(durations["student import"])
    calls = [seconds for name, values in durations.items() if name.startswith("call ") for seconds in values]
    if calls:
        out["  calls: count"] = len(calls)
        out["  calls: total"] = sum(calls)
        out["  calls: median (ms)"] = statistics.median(calls) * 1e3
    for when in ("setup", "call", "teardown"):
        if durations.get(f"test {when}"):
            out[f"  pytest test {when}s: total"] = sum(durations[f"test {when}"])
    return out


def profile(path: Path, started: float, ended: float, sandboxed: bool) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The rows of one run, and its calls by function ("strides.view": every call's seconds)."""
    marks, durations = read(path)
    rows = phase_rows(SANDBOXED if sandboxed else IN_PROCESS, marks, started, ended)
    rows.update(detail_rows(durations))
    rows["total (wall, from the bench)"] = ended - started
    return rows, {name.removeprefix("call "): values for name, values in durations.items() if name.startswith("call ")}


def costliest_calls(boxed: dict[str, list[float]], plain: dict[str, list[float]], top: int = 8) -> str:
    """The functions whose calls cost the sandbox most over in-process (one run of each)."""
    extra = {key: sum(values) - sum(plain.get(key, [])) for key, values in boxed.items()}
    lines = ["| function | calls | sandboxed total (s) | in-process total (s) | extra per call (ms) |", "|---|---:|---:|---:|---:|"]
    for key in sorted(extra, key=extra.get, reverse=True)[:top]:
        count = len(boxed[key])
        lines.append(f"| {key} | {count} | {sum(boxed[key]):.3f} | {sum(plain.get(key, [])):.3f} | {extra[key] / count * 1e3:.2f} |")
    return "\n".join(lines)


def table(boxed: list[dict[str, float]], plain: list[dict[str, float]]) -> str:
    """Medians over the repeats: sandboxed rows in order, the in-process ones beside them."""
    order = [label for label, _, _ in IN_PROCESS[:2] + SANDBOXED]
    seen = list(dict.fromkeys(label for run in boxed + plain for label in run))
    total = "total (wall, from the bench)"
    labels = [label for label in order if label in seen] + [label for label in seen if label not in order and label != total] + [total]
    lines = ["| phase | sandboxed (s) | in-process (s) |", "|---|---:|---:|"]
    for label in labels:
        cells = [_median(runs, label) for runs in (boxed, plain)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _median(runs: list[dict[str, float]], label: str) -> str:
    values = [run[label] for run in runs if label in run]
    if not values:
        return ""
    middle = statistics.median(values)
    return f"{middle:.0f}" if label.endswith("count") else f"{middle:.3f}"
