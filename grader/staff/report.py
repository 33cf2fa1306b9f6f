"""Trusted side (staff tooling): a class's results -> what the LMS, the students and the staff read.

    load_gradebook(gradebook.sqlite) \
                                      ->  [StudentResult]  ->  grades.csv              (the LMS imports it)
    load_class(results_dir)          /                     ->  feedback/STUDENT.md/.html (one per student)
                                                           ->  report.md, report.html   (the class, for staff)

Two sources, one loader each: the gradebook `python -m grader grade` writes (its staff overrides
and late penalties count), or a folder of Gradescope results.json files (RESULTS_DIR/STUDENT/
results.json, e.g. downloaded from Gradescope), where neither exists.

What a student may see is decided here: each test's name, score and the `output` the grader
already wrote into results.json (for a hidden test: its hint and the kind of failure, never a
value). Nothing else from a hidden test, and nothing from the grader's own log, reaches a page.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.staff import report_plots, written_marks
from grader.core.written import PART
from grader.staff.gradebook import Gradebook, unreadable_reason
from grader.core.student_text import printable, scrub, without_grader_frames
from tests.seam import MODULES

TEMPLATES = Path(__file__).parent / "templates"
# written: the written part's points so far; written_pending: its points still awaiting staff marking (in no total yet)
CSV_COLUMNS = ("student", "total", *MODULES, "written", "written_pending", "days_late", "late_penalty_pct", "status")


@dataclass
class StudentResult:
    """One student's results.json (None when there is none to read, with the reason in `problem`).

    From the gradebook, the tests' scores already hold staff overrides, and `final` is the
    gradebook's final score (after the late penalty), which is then the total.
    """

    student: str
    results: dict | None
    problem: str = ""
    final: float | None = None
    days_late: int = 0
    late_penalty_pct: float = 0.0

    @property
    def status(self) -> str:
        """graded / flagged (integrity) / unreadable (the submission could not be read: 0, with its
        reason) / error (the grader failed or never finished: no results, no grade)."""
        if self.results is None:
            return "error"
        if unreadable_reason(self.results):
            return "unreadable"
        return "flagged" if self.flags else "graded"

    @property
    def extra(self) -> dict:
        return (self.results or {}).get("extra_data") or {}

    @property
    def flags(self) -> list[dict]:
        return list(self.extra.get("integrity_flags") or [])

    @property
    def tests(self) -> list[dict]:
        return list((self.results or {}).get("tests") or [])

    @property
    def total(self) -> float | None:
        if self.results is None:
            return None
        return round(self.final, 4) if self.final is not None else float(self.results["score"])

    @property
    def before_penalty(self) -> float:
        """The score the late penalty was taken from (overrides included)."""
        return round(sum(score for score, _ in self.problems().values()), 4)

    @property
    def max_total(self) -> float | None:
        return None if self.results is None else float(self.results["max_score"])

    def problems(self) -> dict[str, tuple[float, float]]:
        """module -> (score, max_score) for the problems this run graded."""
        totals: dict[str, list[float]] = {}
        for test in self.tests:
            entry = totals.setdefault(module_of(test), [0.0, 0.0])
            entry[0] += test["score"]
            entry[1] += test["max_score"]
        return {m: (round(s, 4), round(x, 4)) for m, (s, x) in totals.items()}


def module_of(test: dict) -> str:
    return (test.get("tags") or [""])[0]


def load_class(results_dir: Path) -> list[StudentResult]:
    """Every RESULTS_DIR/STUDENT/ folder, by student name; an unreadable results.json is an error row."""
    students = []
    for folder in sorted(p for p in Path(results_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        path = folder / "results.json"
        try:
            students.append(StudentResult(folder.name, json.loads(path.read_text())))
        except FileNotFoundError:
            students.append(StudentResult(folder.name, None, "no results.json: the grader did not finish"))
        except (OSError, ValueError) as error:
            students.append(StudentResult(folder.name, None, f"unreadable results.json: {error}"))
    return students


GRADER_FAILED = "the grader could not grade this submission (staff: the gradebook's error column says why)"


def load_gradebook(path: Path) -> list[StudentResult]:
    """Every student in the gradebook: their tests with staff overrides applied (the override's
    reason shown first in the test's output) and the final score after the late penalty."""
    book = Gradebook(path)
    try:
        finals = book.final_scores()
        students = []
        for name in book.students():
            row, results = book.submission(name), book.results(name)
            if row["status"] == "error" or results is None:
                students.append(StudentResult(name, None, GRADER_FAILED))
                continue
            written_marks.apply(results, written_marks.marks_of(book, name))  # staff's marks of the explanations
            overrides = {o["test_key"]: o for o in book.overrides(name)}
            for test in results["tests"]:
                override = overrides.get(test["extra_data"]["key"])
                if override is not None:
                    _apply_override(test, override["points"], override["reason"])
            students.append(StudentResult(
                name, results, final=finals[name]["final"], days_late=row["days_late"], late_penalty_pct=row["late_penalty_pct"],
            ))
        return students
    finally:
        book.close()


def _apply_override(test: dict, points: float, reason: str) -> None:
    note = f"Points set by the course staff: {points:g} / {test['max_score']:g} (the grader gave {test['score']:g}). {reason}"
    test["output"] = f"{note}\n\n{test.get('output') or ''}".rstrip()
    test["score"] = points


# --- grades.csv ----------------------------------------------------------------------------


def write_csv(students: list[StudentResult], path: Path) -> None:
    """One row per student; a problem this run did not grade (or a missing result) is left blank."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for student in students:
            problems = student.problems()
            writer.writerow([
                csv_cell(student.student),
                "" if student.total is None else f"{student.total:g}",
                *(f"{problems[m][0]:g}" if m in problems else "" for m in (*MODULES, PART)),
                f"{written_marks.pending_points(student.results):g}" if PART in problems else "",
                student.days_late,
                f"{student.late_penalty_pct:g}",
                student.status,
            ])


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Student-controlled text that a spreadsheet shows as text: never a formula (OWASP's CSV injection advice)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# --- per-student feedback ------------------------------------------------------------------


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
    (The pages list the problems with a failure first: failures_first.)"""
    problems = student.problems()
    sections = []
    for module in MODULES:
        raw = [t for t in student.tests if module_of(t) == module]
        hidden_numbers = {id(t): n for n, t in enumerate((t for t in raw if t.get("visibility") != "visible"), 1)}
        tests = [_test_feedback(t, hidden_numbers.get(id(t))) for t in raw]
        if not tests:
            continue
        score, max_score = problems[module]
        sections.append({
            "module": module,
            "title": _title(student.tests, module),
            "score": score,
            "max_score": max_score,
            "failed": sorted((t for t in tests if t.status == "failed"), key=lambda t: not t.visible),  # details first
            "passed": [t for t in tests if t.status == "passed"],
            "skipped": [t for t in tests if t.status == "skipped"],
        })
    return sections


def failures_first(sections: list[dict]) -> list[dict]:
    """The problems with a failure, then the others, each group in the assignment's order."""
    return sorted(sections, key=lambda section: not section["failed"])


def _test_feedback(test: dict, hidden_number: int | None = None) -> TestFeedback:
    """A hidden test is named by its number in the problem (its hint says what it checks): its
    function's name is the staff's and may say what it looks for."""
    visible = test.get("visibility") == "visible"
    status = "skipped" if (test.get("extra_data") or {}).get("skipped") else test["status"]
    output = scrub(without_grader_frames(test.get("output") or ""))
    return TestFeedback(
        name=test["name"].rsplit(": ", 1)[-1] if visible else f"hidden test {hidden_number}",
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


def smallest_failing_input(output: str) -> str:
    """Hypothesis's "Falsifying example: f(...)" block (and its "Draw N:" lines) from pytest's report."""
    lines = [_unprefix(line) for line in output.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith("Falsifying")), None)
    if start is None:
        return ""
    block, closed = [], False
    for line in lines[start:]:
        if closed and not line.startswith("Draw "):  # the drawn values follow the call; then it ends
            break
        closed = closed or line == ")"
        if not line.strip().startswith("impl="):  # the fixture, not an input
            block.append(line)
        if len(block) > 60:  # a huge example: the full output below still has it
            break
    return "\n".join(block).strip()


def summary_for_students(student: StudentResult) -> str:
    """results.json's top-level output as a student reads it: no staff paths, no sandbox layers."""
    output = (student.results or {}).get("output") or ""
    return scrub("\n".join(line for line in output.splitlines() if not line.startswith("Sandbox: ")))


# --- the class -----------------------------------------------------------------------------


def class_summary(students: list[StudentResult]) -> dict:
    """The numbers behind the class report. Pass rates and failures leave out unreadable and error rows."""
    graded = [s for s in students if s.status in ("graded", "flagged")]
    return {
        "students": students,
        "counts": Counter(s.status for s in students),
        "problems": [_problem_summary(graded, m) for m in MODULES if any(m in s.problems() for s in graded)],
        "flagged": grouped_flags(students),
        "identical": identical_submissions(students),
        "errors": [(s.student, s.problem or unreadable_reason(s.results or {}) or "") for s in students if s.status in ("error", "unreadable")],
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
        if digest and student.status != "unreadable":
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


# --- writing it all ------------------------------------------------------------------------


def write_report(students: list[StudentResult], out: Path, similarity: Path | None = None) -> dict[str, Path]:
    """grades.csv, feedback/STUDENT.{md,html}, histogram.png, pass_rates.png, report.{md,html};
    `similarity`: the similarity command's similarity.html, linked from the class report."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    env = _environment()
    paths = {"csv": out / "grades.csv"}
    write_csv(students, paths["csv"])
    for student in students:
        sections = feedback_for(student)
        context = {"student": student, "sections": sections, "details": failures_first(sections), "fence": fence,
                   "summary": summary_for_students(student), "written": written_marks.feedback(student.results)}
        for suffix in ("md", "html"):
            target = out / "feedback" / f"{student.student}.{suffix}"
            target.write_text(env.get_template(f"feedback.{suffix}.j2").render(context))
    summary = class_summary(students)
    plots = {
        "histogram": report_plots.score_histogram([s for s in students if s.results is not None]),
        "pass_rates": report_plots.pass_rates(summary["problems"]),
    }
    for name, png in plots.items():
        paths[name] = out / f"{name}.png"
        paths[name].write_bytes(png)
    context = {**summary, "modules": (*MODULES, PART), "plots": {k: report_plots.data_uri(v) for k, v in plots.items()},
               "similarity": _relative_link(similarity, out) if similarity is not None else None}
    for suffix in ("md", "html"):
        paths[f"report_{suffix}"] = out / f"report.{suffix}"
        paths[f"report_{suffix}"].write_text(env.get_template(f"report.{suffix}.j2").render(context))
    return paths


def _relative_link(target: Path, out: Path) -> str:
    """A link from out/report.* to `target` (staff's own file), relative so the folder can move."""
    return quote(os.path.relpath(target.resolve(), out.resolve()))


def _environment() -> Environment:
    # Autoescape HTML only: names and outputs come from submissions and must not become markup.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["points"] = lambda x: f"{x:g}"
    env.filters["percent"] = lambda x: f"{100 * x:.0f}%"
    env.filters["cell"] = table_cell
    env.filters["page"] = feedback_link
    return env


def table_cell(value, limit: int = 300) -> str:
    """Text that stays inside one markdown table cell (or line) as plain text: one line, no
    markup, no HTML, no code span (names and exception messages come from submissions)."""
    text = " ".join(printable(value).split())
    return markdown_text(text if len(text) <= limit else text[: limit - 3] + "...")


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+!|~-])")


def markdown_text(text: str) -> str:
    """`text` as literal characters in Markdown: HTML as entities, Markdown's punctuation escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def feedback_link(student: str, suffix: str) -> str:
    """The relative link from the class report to a student's feedback page (any name, quoted)."""
    return "feedback/" + quote(f"{student}.{suffix}")


def fence(text: str) -> str:
    """A markdown code block that the text itself cannot close (it may hold backticks)."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"
