"""Trusted side: the written part, graded here and never in the worker.

A submission's `written.toml` (beside assignment/, staged by grader/core/intake.py: a regular
file, no link, at most 64 KiB) is read with the bundle's own reader (student/questions.py), and:

- each napkin number is compared with the answer key (grader/core/written_key.py) for the numbers
  drawn from the student's login (the name the grader knows them by) and the course's term:
  right within TOLERANCE (relative), else 0;
- each explanation is collected for staff to mark (`python -m grader written ...`): "pending"
  until marked, worth 0 meanwhile and said to be so; an empty one is 0 at once.

The results are tests tagged "written" in results.json (keys written/napkin::KEY and
written/explain::KEY, points from tests/rubric.toml's [written] table), added to the suites'
results by `add` (the driver, grader/staff/grading/batch.py, and the Gradescope entry point call it).
extra_data["written"] keeps what staff need: the login, the term, the explanations' text and
their sha256 (a staff mark counts only for the text it marked).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from grader.compat import tomllib
from grader.core import intake, results
from grader.core.rubric import RUBRIC_PATH, Rubric
from student import questions

PART = "written"
ANSWERS_FILE = questions.ANSWERS_FILE
TOLERANCE = 0.02  # relative, for every napkin number (the handout says so)
NAPKIN, EXPLAIN = "written/napkin::", "written/explain::"
PENDING = "Awaiting marking by the course staff: it counts 0 until it is marked."


def points(path: Path = RUBRIC_PATH) -> tuple[str, dict[str, float]]:
    """The written part's title and its points per test key, from the rubric's [written] table."""
    table = dict(tomllib.loads(path.read_text()).get(PART, {}))
    title = table.pop("title", "Written part")
    return title, {f"{PART}/{key}": float(value) for key, value in table.items()}


def grade(folder: Path | None, login: str, term: str, manual: bool = True, problem: str | None = None) -> tuple[list[dict], dict]:
    """results.json test entries and extra_data["written"] for the staged `folder` (None: nothing to read).

    `manual`: the explanations are marked in our gradebook (False on Gradescope, where staff mark
    them as a question of their own: they are left out here). `problem`: why the file was not read."""
    title, rubric = points()
    path = folder / ANSWERS_FILE if folder is not None else None
    found = path is not None and path.is_file()
    answers = questions.read_answers(path.read_text(encoding="utf-8", errors="replace")) if found else questions.Answers()
    if problem:
        answers.problems.insert(0, problem)
    missing = problem or (None if found else f"no {ANSWERS_FILE} beside assignment/")  # why no answer was read at all
    from grader.core.written_key import expected  # torch and the reference: only where something is graded

    key = expected(questions.draw(login, term))
    tests = [_napkin(title, test_key, rubric[test_key], answers, key, missing) for test_key in rubric if test_key.startswith(NAPKIN)]
    if manual:
        tests += [_explain(title, test_key, rubric[test_key], answers, missing) for test_key in rubric if test_key.startswith(EXPLAIN)]
    extra = {
        "login": questions.identity(login),
        "term": term,
        "file": found,
        "login_in_file": answers.login,
        "term_in_file": answers.term,
        "problems": answers.problems[:20],
        "answers": answers.explain,
        "digests": {f"{EXPLAIN}{k}": digest(text) for k, text in answers.explain.items()},
    }
    return tests, extra


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _entry(title: str, test_key: str, earned: float, max_score: float, status: str, output: str) -> dict:
    return {
        "name": f"{title}: {test_key.split('/', 1)[1].replace('::', ' ')}",
        "score": earned,
        "max_score": max_score,
        "status": status,
        "output": output,
        "tags": [PART],
        "visibility": "visible",
        "extra_data": {"key": test_key, "skipped": False, "seconds": 0.0},
    }


def _napkin(title: str, test_key: str, worth: float, answers, key: dict, missing: str | None) -> dict:
    name = test_key[len(NAPKIN):]
    if name not in answers.napkin:
        return _entry(title, test_key, 0.0, worth, "failed", f"No answer: {missing or f'[napkin] {name} is not in {ANSWERS_FILE}'}.")
    given, exact = answers.napkin[name], key[name]
    if abs(given - exact) <= TOLERANCE * abs(exact):
        return _entry(title, test_key, worth, worth, "passed", f"Your {given:.6g} is within {TOLERANCE:.0%} of the exact value.")
    return _entry(title, test_key, 0.0, worth, "failed", f"Your {given:.6g} is not within {TOLERANCE:.0%} of the exact value.")


def _explain(title: str, test_key: str, worth: float, answers, missing: str | None) -> dict:
    name = test_key[len(EXPLAIN):]
    if name not in answers.explain:
        return _entry(title, test_key, 0.0, worth, "failed", f"No answer: {missing or f'[explain] {name} is empty or not in {ANSWERS_FILE}'}.")
    return _entry(title, test_key, 0.0, worth, "pending", PENDING)


def login_flags(extra: dict) -> list[dict]:
    """An integrity flag where the answers file names another login than the one graded: staff look."""
    named = extra.get("login_in_file")
    if named is None or questions.identity(named) == extra["login"]:
        return []
    return [{"kind": "written-login", "detail": f"{ANSWERS_FILE} names the login {named[:60]!r}; graded as {extra['login']!r}", "test": None}]


# --- into a results.json ----------------------------------------------------------------------


def add(data: dict, submission: Path, login: str, term: str, manual: bool = True) -> dict:
    """The written part added to `data` (a results.json dict of the suites, perhaps empty or unreadable)."""
    reason = (data.get("extra_data") or {}).get("unreadable")
    if reason:
        tests, extra = grade(None, login, term, manual, problem=f"not graded: {reason}")
    else:
        with tempfile.TemporaryDirectory(prefix="written-") as scratch:
            try:
                staged = intake.stage(submission, Path(scratch))
            except (intake.BadSubmission, OSError) as error:
                staged, reason = None, f"the submission could not be read: {error}"
            tests, extra = grade(staged.folder if staged else None, login, term, manual, staged.written_problem if staged else reason)
    return attach(data, tests, extra)


def attach(data: dict, tests: list[dict], extra: dict) -> dict:
    """`tests` into `data`: the total, the summary's first line and extra_data follow."""
    data["tests"] = [t for t in data.get("tests", []) if (t.get("tags") or [""])[0] != PART] + tests
    data["score"] = round(sum(t["score"] for t in data["tests"]), 4)
    data["max_score"] = round(sum(t["max_score"] for t in data["tests"]), 4)
    info = data.setdefault("extra_data", {})
    info[PART] = extra
    info["integrity_flags"] = [f for f in info.get("integrity_flags", []) if f.get("kind") != "written-login"] + login_flags(extra)
    return refresh_summary(data)


def refresh_summary(data: dict) -> dict:
    """results.json's output with its first line (the score) and its written part's lines as `data` now has them."""
    lines = (data.get("output") or "").splitlines()
    if lines and lines[0].startswith("Score: "):
        lines = lines[1:]
    lines = [line for line in lines if not line.startswith(("Written part: ", f"  {ANSWERS_FILE}: "))]
    tests = [t for t in data["tests"] if (t.get("tags") or [""])[0] == PART]
    written = [summary(tests, data["extra_data"][PART])] if tests else []
    data["output"] = "\n".join([f"Score: {data['score']:g} / {data['max_score']:g}", *written, *lines])
    return data


def summary(tests: list[dict], extra: dict) -> str:
    earned, worth = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
    pending = sum(t["max_score"] for t in tests if t["status"] == "pending")
    line = f"Written part: {earned:g} / {worth:g} (your napkin numbers are drawn for the login {extra['login']!r})"
    if pending:
        line += f"; {pending:g} points of explanations await marking by the course staff and count 0 until then"
    notes = [f"  {ANSWERS_FILE}: {problem}" for problem in extra["problems"][:5]]
    return "\n".join([line, *notes])


def alone(submission: Path, login: str, term: str, manual: bool = True) -> dict:
    """A results.json of the written part only (`grade --only written`: no suite, no sandbox, no student code run)."""
    with tempfile.TemporaryDirectory(prefix="written-") as scratch:
        try:
            sha = results.submission_digest(intake.stage(submission, Path(scratch)).folder)
            extra: dict = {"integrity_flags": [], "submission_sha256": sha}
        except (intake.BadSubmission, OSError) as error:
            flags = error.flags() if isinstance(error, intake.BadSubmission) else []
            extra = {"integrity_flags": flags, "unreadable": str(error)}
    data = results.build(Rubric({}, {}, {}, "visible"), [], seconds=0.0, summary="", extra=extra)  # no test of the suites
    return add(data, submission, login, term, manual)
