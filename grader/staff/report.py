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
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.core.written import PART
from grader.staff import outcomes, report_plots, shown_tests, written_marks
from grader.staff.gradebook import Gradebook, Late, unreadable_reason
from grader.staff.outcomes import GRADED, GRADER_ERROR, UNREADABLE
from grader.staff.scores import label
from grader.core.student_text import distinct_names, printable, scrub, without_grader_frames
from tests.seam import MODULES

TEMPLATES = Path(__file__).parent / "templates"
# status: an outcome (graded / unreadable / grader error); written: the written part's points so far; written_pending:
# its points still awaiting staff marking (in no total yet); score: after staff overrides and marks; final: after the
# late penalty too (what the LMS takes); days_late is blank when the submission time is unknown.
CSV_COLUMNS = (
    "student", "status", *MODULES, "written", "written_pending", "score", "days_late", "late_penalty_pct", "final",
    "time_source", "submitted_at", "deadline", "extension", "faults", "integrity_flags",
)


@dataclass
class StudentResult:
    """One student's results.json (None when there is none to read, with the reason in `problem`).

    From the gradebook, the tests' scores already hold staff overrides, `final` is the gradebook's
    final score (after the late penalty), and `late` says when the submission came in, by whose
    word, which deadline applied and what the policy took off.
    """

    student: str
    results: dict | None
    problem: str = ""
    final: float | None = None
    late: Late = field(default_factory=Late)

    @property
    def status(self) -> str:
        """The outcome (grader/staff/outcomes.py): graded / unreadable / grader error."""
        if self.results is None:
            return GRADER_ERROR
        return UNREADABLE if unreadable_reason(self.results) else GRADED

    @property
    def extra(self) -> dict:
        return (self.results or {}).get("extra_data") or {}

    @property
    def all_flags(self) -> list[dict]:
        return list(self.extra.get("integrity_flags") or [])

    @property
    def flags(self) -> list[dict]:
        """Integrity flags only: faults of the code (crash, hang, memory) are `faults`."""
        return outcomes.integrity(self.all_flags)

    @property
    def faults(self) -> dict[str, int]:
        return outcomes.faults(self.all_flags)

    @property
    def tests(self) -> list[dict]:
        return list((self.results or {}).get("tests") or [])

    @property
    def total(self) -> float | None:
        """The final score: after staff overrides and the late penalty."""
        if self.results is None:
            return None
        return round(self.final, 4) if self.final is not None else self.score

    @property
    def score(self) -> float:
        """The tests' points, staff overrides included, before the late penalty."""
        return round(sum(score for score, _ in self.problems().values()), 4)

    before_penalty = score  # the feedback template's older name

    @property
    def days_late(self) -> int:
        return self.late.days_late

    @property
    def late_penalty_pct(self) -> float:
        return self.late.penalty_pct

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
            try:
                students.append(_from_gradebook(book, name, finals))
            except Exception as error:  # noqa: BLE001 (one unreadable row: that student is a grader error, the rest are reported)
                students.append(StudentResult(name, None, f"{GRADER_FAILED}; the gradebook's row cannot be read ({type(error).__name__})"))
        return students
    finally:
        book.close()


def _from_gradebook(book: Gradebook, name: str, finals: dict) -> StudentResult:
    row, results = book.submission(name), book.results(name)
    if row["status"] == GRADER_ERROR or results is None:
        return StudentResult(name, None, GRADER_FAILED, late=Late.of(row))
    written_marks.apply(results, written_marks.marks_of(book, name))  # staff's marks of the explanations
    overrides = {o["test_key"]: o for o in book.overrides(name)}
    for test in results["tests"]:
        override = overrides.get(test["extra_data"]["key"])
        if override is not None:
            _apply_override(test, override["points"], override["reason"])
    return StudentResult(name, results, final=finals[name]["final"], late=Late.of(row))


def _apply_override(test: dict, points: float, reason: str) -> None:
    note = f"Points set by the course staff: {points:g} / {test['max_score']:g} (the grader gave {test['score']:g}). {reason}"
    test["output"] = f"{note}\n\n{test.get('output') or ''}".rstrip()
    test["score"] = points


# --- grades.csv ----------------------------------------------------------------------------


def write_csv(students: list[StudentResult], path: Path) -> None:
    """One row per student (CSV_COLUMNS); a problem this run did not grade (or a missing result) is left blank."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for student in students:
            writer.writerow([csv_cell(str(value)) for value in csv_row(student).values()])


def csv_row(student: StudentResult) -> dict[str, object]:
    problems, late, graded = student.problems(), student.late, student.results is not None
    return {
        "student": student.student,
        "status": student.status,
        **{m: f"{problems[m][0]:g}" if m in problems else "" for m in MODULES},
        "written": f"{problems[PART][0]:g}" if PART in problems else "",
        "written_pending": f"{written_marks.pending_points(student.results):g}" if PART in problems else "",
        "score": f"{student.score:g}" if graded else "",
        "days_late": "" if late.time_unknown else late.days_late,
        "late_penalty_pct": f"{late.penalty_pct:g}",
        "final": "" if student.total is None else f"{student.total:g}",
        "time_source": late.time_source,
        "submitted_at": late.submitted_at or "",
        "deadline": late.deadline or "",
        "extension": late.extension,
        "faults": outcomes.faults_text(student.faults),
        "integrity_flags": outcomes.integrity_text(student.all_flags),
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Student-controlled text that a spreadsheet shows as text: never a formula (OWASP's CSV injection
    advice), never a character that hides or disguises a name (student_text.printable)."""
    text = printable(text)
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
    function's name is the staff's and may say what it looks for (grader/staff/shown_tests.py)."""
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


# --- the class -----------------------------------------------------------------------------


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


# --- writing it all ------------------------------------------------------------------------


def write_report(students: list[StudentResult], out: Path, similarity: Path | None = None) -> dict[str, Path]:
    """grades.csv, feedback/STUDENT.{md,html}, histogram.png, pass_rates.png, report.{md,html};
    `similarity`: the similarity command's similarity.html, linked from the class report.
    One student's page that cannot be written is replaced by a note (`failed_pages`), never the class's."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    env = _environment(distinct_names([s.student for s in students]))
    paths = {"csv": out / "grades.csv"}
    write_csv(students, paths["csv"])
    failed_pages = []
    for student in students:
        try:
            write_feedback(env, student, out / "feedback")
        except Exception as error:  # noqa: BLE001 (any exception: this student is marked, the rest go on)
            failed_pages.append((student.student, f"{type(error).__name__}: {str(error)[:300]}"))
    summary = {**class_summary(students), "failed_pages": failed_pages}
    plots = {
        "histogram": report_plots.score_histogram([s for s in students if s.results is not None]),
        "pass_rates": report_plots.pass_rates(summary["problems"]),
    }
    for name, png in plots.items():
        paths[name] = out / f"{name}.png"
        paths[name].write_bytes(png)
    graded_modules = [m for m in (*MODULES, PART) if any(m in s.problems() for s in students)] or list(MODULES)
    columns = [(label(m), m) for m in graded_modules]  # the parts this run graded, as P1..P8 and W
    context = {**summary, "modules": graded_modules, "columns": columns, "plots": {k: report_plots.data_uri(v) for k, v in plots.items()},
               "similarity": _relative_link(similarity, out) if similarity is not None else None}
    for suffix in ("md", "html"):
        paths[f"report_{suffix}"] = out / f"report.{suffix}"
        paths[f"report_{suffix}"].write_text(env.get_template(f"report.{suffix}.j2").render(context))
    paths["failed_pages"] = failed_pages
    return paths


def write_feedback(env: Environment, student: StudentResult, folder: Path) -> None:
    sections = feedback_for(student)
    details = [] if student.status == UNREADABLE else failures_first(sections)  # its one reason is said at the top
    context = {"student": student, "sections": sections, "details": details, "fence": fence,
               "summary": summary_for_students(student), "story": score_story(student), "written": written_marks.feedback(student.results)}
    for suffix in ("md", "html"):
        (folder / f"{page_stem(student.student)}.{suffix}").write_text(env.get_template(f"feedback.{suffix}.j2").render(context))


MAX_STEM_BYTES = 200  # a file name is at most 255 bytes: room for ".html" and more


def page_stem(student: str) -> str:
    """The feedback page's file name (without suffix): the student's name, or for a name too long
    for a file name, its start and a digest of the whole (two long names never share a page)."""
    encoded = student.encode("utf-8", "surrogateescape")
    if len(encoded) <= MAX_STEM_BYTES:
        return student
    digest = hashlib.sha256(encoded).hexdigest()[:12]
    return encoded[:MAX_STEM_BYTES - 13].decode("utf-8", "ignore") + "-" + digest


def _relative_link(target: Path, out: Path) -> str:
    """A link from out/report.* to `target` (staff's own file), relative so the folder can move."""
    return quote(os.path.relpath(target.resolve(), out.resolve()))


def _environment(shown: dict[str, str] | None = None) -> Environment:
    """`shown`: student -> their name as staff pages show it (student_text.distinct_names)."""
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
    names = shown or {}
    env.filters["name"] = lambda student: names.get(student) or printable(student)  # HTML: autoescaped after
    env.filters["md_name"] = lambda student: markdown_text(names.get(student) or printable(student))
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
    return "feedback/" + quote(f"{page_stem(student)}.{suffix}", errors="surrogateescape")


def fence(text: str) -> str:
    """A markdown code block that the text itself cannot close (it may hold backticks)."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"
