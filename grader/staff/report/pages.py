"""Writes it all: grades.csv, the feedback pages and the class report (markdown and HTML)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.core.student_text import distinct_names, printable
from grader.core.written import PART
from grader.staff.written import written_marks
from grader.staff.grading.outcomes import UNREADABLE
from grader.staff.report import plots as charts
from grader.staff.report.class_results import StudentResult
from grader.staff.report.class_summary import class_summary
from grader.staff.report.feedback import failures_first, feedback_for, score_story, summary_for_students
from grader.staff.report.grades_csv import write_csv
from grader.staff.grading.scores import label
from seam import MODULES


TEMPLATES = Path(__file__).parent.parent / "templates"


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
        "histogram": charts.score_histogram([s for s in students if s.results is not None]),
        "pass_rates": charts.pass_rates(summary["problems"]),
    }
    for name, png in plots.items():
        paths[name] = out / f"{name}.png"
        paths[name].write_bytes(png)
    graded_modules = [m for m in (*MODULES, PART) if any(m in s.problems() for s in students)] or list(MODULES)
    columns = [(label(m), m) for m in graded_modules]  # the parts this run graded, as P1..P8 and W
    context = {**summary, "modules": graded_modules, "columns": columns, "plots": {k: charts.data_uri(v) for k, v in plots.items()},
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
