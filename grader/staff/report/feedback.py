"""Each student's feedback: what a student may see of each test, failures first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.core.student_text import scrub, without_grader_frames
from grader.staff.report import shown_tests
from grader.staff.report.class_results import module_of
from grader.staff.report.class_results import StudentResult
from seam import MODULES


@dataclass
class TestFeedback:
    name: str
    score: float
    max_score: float
    visible: bool
    status: str  # passed / failed / skipped
    output: str  # as results.json holds it
    smallest_input: str  # visible tests only: hypothesis's falsifying example


def feedback_for(student: StudentResult) -> list[dict]:
    """Per problem, in the assignment's order: its score and its tests, failed before passed.
    (The pages list the problems with a failure first: failures_first.) A problem whose tests all
    failed for one reason (a module that is missing or does not import, a submission that could
    not be read, a stub) says that reason once (`shared_reason`) instead of under every test."""
    problems = student.problems()
    names = dict(zip(map(id, student.tests), shown_tests.shown_names(student.tests)))
    sections = []
    for module in MODULES:
        tests = [_test_feedback(t, names[id(t)]) for t in student.tests if module_of(t) == module]
        if not tests:
            continue
        score, max_score = problems[module]
        failed = sorted((t for t in tests if t.status == "failed"), key=lambda t: not t.visible)  # details first
        sections.append({
            "module": module,
            "title": _title(student.tests, module),
            "score": score,
            "max_score": max_score,
            "failed": failed,
            "passed": [t for t in tests if t.status == "passed"],
            "skipped": [t for t in tests if t.status == "skipped"],
            "shared_reason": shared_reason(failed) if len(failed) == len(tests) else "",
        })
    return sections


def shared_reason(failed: list[TestFeedback]) -> str:
    """The reason every one of `failed` gives as its last line, if they share one that is not a wrong
    result (those differ in what they compare: each keeps its own hint); "" otherwise."""
    reasons = {_last_line(t.output) for t in failed}
    if len(failed) < 2 or len(reasons) != 1:
        return ""
    (reason,) = reasons
    return "" if reason.startswith("wrong result") or not reason else reason


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def failures_first(sections: list[dict]) -> list[dict]:
    """The problems with a failure, then the others, each group in the assignment's order."""
    return sorted(sections, key=lambda section: not section["failed"])


def _test_feedback(test: dict, shown_name: str) -> TestFeedback:
    """A hidden test is named by its number in the problem (its hint says what it checks): its
    function's name is the staff's and may say what it looks for (grader/staff/report/shown_tests.py)."""
    visible = shown_tests.is_visible(test)
    status = "skipped" if (test.get("extra_data") or {}).get("skipped") else test["status"]
    output = scrub(without_grader_frames(test.get("output") or ""))
    return TestFeedback(
        name=shown_name,
        score=test["score"],
        max_score=test["max_score"],
        visible=visible,
        status=status,
        output=output,
        smallest_input=smallest_failing_input(output) if visible and status == "failed" else "",
    )


def _unprefix(line: str) -> str:
    """pytest's report line without its "E   " error prefix (indentation inside kept)."""
    for prefix in ("E   ", "E"):
        if line.startswith(prefix):
            return line[len(prefix):].rstrip()
    return line.rstrip()


def _title(tests: list[dict], module: str) -> str:
    """The problem's title, from its tests' names ("TITLE: test_function")."""
    names = [t["name"] for t in tests if module_of(t) == module and ": " in t["name"]]
    title = names[0].rsplit(": ", 1)[0] if names else module
    return module if title == module else f"{title} ({module})"


EXAMPLE_HEADER = re.compile(r"(Falsifying|Failing)( explicit)? example\b")


def smallest_failing_input(output: str) -> str:
    """Hypothesis's "Falsifying example: f(...)" block (and its "Draw N:" lines) from pytest's report
    ("Failing example" / "Failing explicit example" since hypothesis 6.16x: both spellings)."""
    lines = [_unprefix(line) for line in output.splitlines()]
    start = next((i for i, line in enumerate(lines) if EXAMPLE_HEADER.match(line.strip())), None)
    if start is None:
        return ""
    block, closed = [], False
    for line in lines[start:]:
        if closed and not line.startswith("Draw "):  # the drawn values follow the call; then it ends
            break
        closed = closed or line.strip() == ")"
        if not line.strip().startswith("impl="):  # the fixture, not an input
            block.append(line)
        if len(block) > 60:  # a huge example: the full output below still has it
            break
    return "\n".join(block).strip()


def summary_for_students(student: StudentResult) -> str:
    """results.json's top-level output as a student reads it: no staff paths, no sandbox layers, and
    no "Score: ..." line (the page says the one score that counts, after overrides and the late policy)."""
    output = (student.results or {}).get("output") or ""
    lines = [line for line in output.splitlines() if not line.startswith(("Sandbox: ", "Score: "))]
    return scrub("\n".join(lines).strip())


def score_story(student: StudentResult) -> str:
    """How the page's one score was reached, spelled out where the late policy took something off."""
    late, score = student.late, student.score
    if student.results is None or not late.penalty_pct:
        return f"Your deadline was extended: {late.deadline}." if late.extension and late.deadline else ""
    deadline = f"your deadline{' (extended)' if late.extension else ''}, {late.deadline}" if late.deadline else "the deadline"
    return (f"Your tests earned {score:g} / {student.max_total:g}. Your submission came in {late.days_late} day(s) after "
            f"{deadline}, and the late policy takes {late.penalty_pct:g}% off: "
            f"{score:g} × (1 − {late.penalty_pct / 100:g}) = {student.total:g}.")
