"""The class, for staff: scores, each problem's pass rates and most common failure, flags, identical submissions."""

from __future__ import annotations

from collections import Counter

from grader.staff.grading import outcomes
from grader.staff.written import written_marks
from grader.staff.grading.gradebook import unreadable_reason
from grader.staff.grading.outcomes import GRADED
from grader.staff.report.class_results import module_of
from grader.staff.report.class_results import StudentResult
from grader.staff.report.feedback import _title
from seam import MODULES


def class_summary(students: list[StudentResult]) -> dict:
    """The numbers behind the class report. Pass rates and failures count graded students only."""
    graded = [s for s in students if s.status == GRADED]
    return {
        "students": students,
        "counts": Counter(s.status for s in students),
        "problems": [_problem_summary(graded, m) for m in MODULES if any(m in s.problems() for s in graded)],
        "flagged": grouped_flags(students),
        "faulty": [(s.student, outcomes.faults_text(s.faults)) for s in students if s.faults],
        "identical": identical_submissions(students),
        "errors": [(s.student, s.status, s.problem or unreadable_reason(s.results or {}) or "") for s in students if s.status != GRADED],
        "time_unknown": [s.student for s in students if s.status == GRADED and s.late.time_unknown and s.late.deadline],
        "extensions": [(s.student, s.late.extension, s.late.deadline) for s in students if s.late.extension],
        "late_policy": any(s.late.deadline for s in students),
        "written_pending": sum(1 for s in graded if written_marks.pending_points(s.results)),
    }


def grouped_flags(students: list[StudentResult]) -> list[dict]:
    """One row per student and kind of flag: how many, in which tests, and the first detail."""
    rows = []
    for student in students:
        kinds: dict[str, list[dict]] = {}
        for flag in student.flags:
            kinds.setdefault(str(flag.get("kind")), []).append(flag)
        for kind, flags in sorted(kinds.items()):
            tests = sorted({str(f["test"]).rsplit("::", 1)[-1] for f in flags if f.get("test")})
            rows.append({"student": student.student, "kind": kind, "count": len(flags), "tests": tests, "detail": str(flags[0].get("detail", ""))})
    return rows


def identical_submissions(students: list[StudentResult]) -> list[list[str]]:
    """Groups of two or more students whose submissions are byte-identical (same submission_sha256)."""
    by_digest: dict[str, list[str]] = {}
    for student in students:
        digest = student.extra.get("submission_sha256")
        if digest and student.status == GRADED:
            by_digest.setdefault(digest, []).append(student.student)
    return sorted(group for group in by_digest.values() if len(group) > 1)


def _problem_summary(graded: list[StudentResult], module: str) -> dict:
    tests = [t for s in graded for t in s.tests if module_of(t) == module and not (t.get("extra_data") or {}).get("skipped")]
    passed = sum(t["status"] == "passed" for t in tests)
    scores = [s.problems()[module] for s in graded if module in s.problems()]
    full = sum(score >= max_score for score, max_score in scores)
    return {
        "module": module,
        "title": _title([t for s in graded for t in s.tests], module),
        "pass_rate": passed / len(tests) if tests else 0.0,
        "full_marks": full,
        "students": len(scores),
        "most_common_failure": most_common_failure([t for t in tests if t["status"] == "failed"]),
    }


def most_common_failure(failed: list[dict]) -> dict | None:
    """Group failing tests by their output's first line (the test's hint); the biggest group wins."""
    if not failed:
        return None
    groups: dict[str, list[dict]] = {}
    for test in failed:
        groups.setdefault(_first_line(test["output"]), []).append(test)
    line, group = max(groups.items(), key=lambda item: len(item[1]))
    kinds = Counter(_failure_kind(t["output"]) for t in group)
    return {
        "line": line,
        "tests": sorted({t["name"].rsplit(": ", 1)[-1] for t in group}),
        "count": len(group),
        "kind": kinds.most_common(1)[0][0],
    }


def _first_line(output: str) -> str:
    return next((line.strip() for line in output.splitlines() if line.strip()), "(no output)")


def _failure_kind(output: str) -> str:
    """The line the grader writes after the hint (and the "N of M cases failed" note): the kind."""
    for line in output.splitlines()[1:]:
        if line.strip() and " cases failed; the first: " not in line:
            return line.strip()
    return ""
