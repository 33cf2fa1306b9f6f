"""Trusted side: Gradescope's results.json (and the staff file beside it), bounded and written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import grader
from grader.core.rubric import Rubric, TestScore
from seam import REPO_ROOT

SUITE_PARTS = ("tests", "seam", "solutions")  # seam/: the own-work rules decide points too
# The written part's draws and answer key decide its points as the suites decide theirs.
SUITE_FILES = ("student/questions.py", "grader/core/written.py", "grader/core/written_key.py")
NOT_SUITE = ("tests/project", "tests/data")  # the kit's own tests and test data grade nobody


def suite_version() -> str:
    """A digest of the suites, the reference and the rubric: which tests gave a score."""
    digest = hashlib.sha256()
    for part in SUITE_PARTS:
        for path in sorted((REPO_ROOT / part).rglob("*")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if relative.startswith(NOT_SUITE) or "__pycache__" in path.parts:
                continue
            if path.is_file() and path.suffix in (".py", ".toml"):
                digest.update(relative.encode())
                digest.update(path.read_bytes())
    for relative in SUITE_FILES:
        digest.update(relative.encode())
        digest.update((REPO_ROOT / relative).read_bytes())
    return digest.hexdigest()[:16]


def submission_digest(folder: Path) -> str:
    """The staged submission's code, and its written answers where there are any (a new text is a new submission)."""
    digest = hashlib.sha256()
    written = [folder / "written.toml"] if (folder / "written.toml").is_file() else []
    for path in [*sorted((folder / "assignment").rglob("*.py")), *written]:
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(rubric: Rubric, scores: list[TestScore], *, seconds: float, summary: str, extra: dict) -> dict:
    tests = [
        {
            "name": f"{rubric.titles[s.module]}: {s.key.split('::')[-1]}",
            "score": s.score,
            "max_score": s.max_score,
            "status": s.status if s.status != "skipped" else "passed",
            "output": s.output,
            "tags": [s.module],
            "visibility": "visible" if s.visible else rubric.hidden_visibility,
            "extra_data": {"key": s.key, "skipped": s.status == "skipped", "seconds": round(s.seconds, 3)},
        }
        for s in scores
    ]
    return {
        "score": round(sum(s.score for s in scores), 4),
        "max_score": round(sum(s.max_score for s in scores), 4),
        "execution_time": round(seconds, 2),
        "output": summary,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"grader_version": grader.__version__, "suite_version": suite_version(), **extra},
    }


def per_problem(results: dict) -> dict[str, tuple[float, float]]:
    """module -> (score, max_score), from a results.json's tests."""
    totals: dict[str, list[float]] = {}
    for test in results["tests"]:
        module = test["tags"][0]
        entry = totals.setdefault(module, [0.0, 0.0])
        entry[0] += test["score"]
        entry[1] += test["max_score"]
    return {m: (round(a, 4), round(b, 4)) for m, (a, b) in totals.items()}


def hidden_test_names(rubric: Rubric, cases: list) -> dict[str, str]:
    """A hidden test case's id -> "hidden test N (problem)": N as the feedback numbers them (the
    problem's hidden test functions in the rubric's order), never the id or its parameters."""
    numbers: dict[str, int] = {}
    for module in dict.fromkeys(rubric.problem_of.values()):
        hidden = [key for key, problem in rubric.problem_of.items() if problem == module and not key.startswith("public/")]
        numbers.update((key, n) for n, key in enumerate(hidden, 1))
    return {case.nodeid: f"hidden test {numbers[case.key]} ({case.module})" for case in cases if case.key in numbers}


# results.json and the staff file stay under 1 MiB whatever the worker sends: each field has
# its own bound, and `bounded` cuts the longest strings if escaping (a control character is 6
# bytes of JSON, a non-BMP one 12) or anything else still takes the file over.
MAX_FILE_BYTES = 1000 * 1024
CUT = " [... cut: the file is bounded to 1 MiB ...] "


def bounded(data: dict, limit: int = MAX_FILE_BYTES) -> dict:
    """`data` with its longest strings cut in the middle until its JSON (as written) fits in `limit` bytes."""
    size = len(_encoded(data))
    if size <= limit:
        return data
    sizes = sorted(_string_sizes(data, []))
    budget = limit - (size - sum(sizes))
    cap = _water_level(sizes, budget)
    return _cut_strings(data, max(cap - len(CUT), 0))


def _encoded(data) -> str:
    return json.dumps(data, indent=2, sort_keys=False)


def _json_size(text: str) -> int:
    return len(json.dumps(text)) - 2


def _string_sizes(value, sizes: list) -> list:
    if isinstance(value, str):
        sizes.append(_json_size(value))
    elif isinstance(value, dict):
        for item in value.values():
            _string_sizes(item, sizes)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _string_sizes(item, sizes)
    return sizes


def _water_level(sizes: list[int], budget: int) -> int:
    """The largest cap such that the strings, each cut to at most cap, fit in `budget` (sizes sorted)."""
    low, high = 0, sizes[-1] if sizes else 0
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(s, middle) for s in sizes) + len(CUT) * sum(s > middle for s in sizes) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _cut_strings(value, cap: int):
    if isinstance(value, str):
        return value if _json_size(value) <= cap + len(CUT) else _cut(value, cap)
    if isinstance(value, dict):
        return {key: _cut_strings(item, cap) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cut_strings(item, cap) for item in value]
    return value


def _cut(text: str, cap: int) -> str:
    """Its head and tail, `cap` bytes of JSON in all, around the CUT mark."""
    keep = cap // 2
    while keep and _json_size(text[:keep]) + _json_size(text[-keep:]) > cap:
        keep = keep * cap // (_json_size(text[:keep]) + _json_size(text[-keep:]) + 1)
    return text[:keep] + CUT + text[len(text) - keep:] if keep else CUT


LOG_TAIL_CHARS = 20000  # of pytest's log, in the staff file


def staff_file(out_file: Path) -> Path:
    """Beside results.json (which Gradescope shows the student): what only staff may read."""
    return out_file.with_name(f"{out_file.stem}.staff.json")


def write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2, sort_keys=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


# --- two grades of one submission side by side (tests/project/test_service.py, bench/parity.py) ---

# Inherently per run: how long things took (results.json's execution_time and each test's seconds;
# pytest's "in 1.23s", or "in 85.30s (0:01:25)" past a minute, and hypothesis's timings in the
# staff file's log), and where objects were in memory (the staff log's "<function ... at 0x7f...>":
# two per-process runs differ there too).
_DURATION = re.compile(r"\d+(\.\d+)?(s|ms)\b( \(\d+:\d\d:\d\d\))?")
_ADDRESS = re.compile(r"\bat 0x[0-9a-f]+")


def without_run_details(data: dict) -> dict:
    """results.json's or the staff file's data without what differs from one run to the next
    (a copy): scores, statuses, outputs and flags all stay."""
    data = json.loads(json.dumps(data))
    data.pop("execution_time", None)
    data.pop("hint_seed", None)  # a fresh draw per grade, by design (grade.hint_seed): the sample a student cannot predict
    for test in data.get("tests", []):
        test.get("extra_data", {}).pop("seconds", None)
    if "pytest_log_tail" in data:
        data["pytest_log_tail"] = _log_tail_without_run_details(data["pytest_log_tail"])
    return data


def _log_tail_without_run_details(tail: str) -> str:
    text = _ADDRESS.sub("at <address>", _DURATION.sub("<duration>", tail))
    if len(tail) >= LOG_TAIL_CHARS:
        # A cut tail starts LOG_TAIL_CHARS before the log's end: a duration or an address a digit
        # longer anywhere after that moves where it starts. Compared: its whole lines in the last
        # LOG_TAIL_CHARS - 1000 characters (all those digits together are far fewer than 1000).
        text = text[-(LOG_TAIL_CHARS - 1000):].partition("\n")[2]
    return text


def both_without_run_details(out_file: Path) -> tuple[dict, dict | None]:
    """results.json at `out_file` and the staff file beside it (None where there is none), each
    `without_run_details`: what two grades of the same submission must agree on."""
    staff = staff_file(out_file)
    return (
        without_run_details(json.loads(out_file.read_text())),
        without_run_details(json.loads(staff.read_text())) if staff.exists() else None,
    )


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()  # a key path one file has and the other does not (equal to no value of a file)


def differences(first: Path, second: Path) -> dict[str, tuple]:
    """Where two grades' files disagree, but for what `without_run_details` leaves out: each
    key path (e.g. results.json.tests[3].output) with the first's value and the second's."""
    mine, theirs = (_leaves(dict(zip(("results.json", "staff"), both_without_run_details(f)))) for f in (first, second))
    return {path: (mine.get(path, MISSING), theirs.get(path, MISSING))
            for path in {**mine, **theirs} if mine.get(path, MISSING) != theirs.get(path, MISSING)}


def _leaves(data, path: str = "") -> dict:
    """Every value in `data` (nested dicts and lists) by its key path."""
    if isinstance(data, dict) and data:
        return {k: v for key, item in data.items() for k, v in _leaves(item, f"{path}.{key}" if path else key).items()}
    if isinstance(data, list) and data:
        return {k: v for i, item in enumerate(data) for k, v in _leaves(item, f"{path}[{i}]").items()}
    return {path: data}
