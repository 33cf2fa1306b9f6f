"""Trusted side (staff): the marking page of the written part, one question across the class at a time.

`python -m grader written page OUT` writes OUT/written.html (one self-contained page) and
OUT/written.md from the gradebook: per explanation question, its prompt and points, then each
student's answer (their text, escaped: it comes from students), its state (pending, marked,
stale, unanswered), the mark and comment so far, and the command that marks it. Below, the napkin
numbers per student, graded already, and each answers file's problems (a login that is not the
student's, a wrong term, keys that do not exist).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from grader.core.written import NAPKIN, PART
from grader.staff.written import written_marks
from student import questions


def context(book, only: str | None = None) -> dict:
    """What the page shows (`only`: one question's key, e.g. six_nd)."""
    answers = written_marks.answers(book)
    sections = []
    for question, prompt in questions.EXPLAIN.items():
        if only not in (None, question):
            continue
        mine = [a for a in answers if a.question == question]
        sections.append({
            "question": question,
            "prompt": prompt,
            "max_points": mine[0].max_points if mine else 0.0,
            "answers": [_row(a, [b.student for b in mine if b is not a and b.text and b.text == a.text]) for a in mine],
            "counts": {state: sum(a.state == state for a in mine) for state in ("pending", "stale", "marked", "unanswered")},
        })
    return {"sections": sections, "napkin": _napkin_rows(book), "gradebook": str(book.path)}


def _row(answer: written_marks.Answer, same_text: list[str]) -> dict:
    mark = answer.mark
    return {
        "student": answer.student,
        "state": answer.state,
        "text": answer.text,
        "same_text": same_text,  # other students whose answer is this very text
        "mark": None if mark is None else {"points": mark["points"], "by": mark["by"], "comment": mark["comment"]},
        "command": " ".join(shlex.quote(part) for part in
                            ("python", "-m", "grader", "written", "mark", answer.student, answer.question, "POINTS", "--by", "NAME")),
    }


def _napkin_rows(book) -> list[dict]:
    rows = []
    for student in book.students():
        results = book.results(student)
        if results is None or book.submission(student)["status"] != "graded":
            continue
        tests = [t for t in results["tests"] if t["extra_data"]["key"].startswith(NAPKIN)]
        extra = (results.get("extra_data") or {}).get(PART) or {}
        rows.append({
            "student": student,
            "score": round(sum(t["score"] for t in tests), 4),
            "max_score": round(sum(t["max_score"] for t in tests), 4),
            "right": [t["extra_data"]["key"][len(NAPKIN):] for t in tests if t["status"] == "passed"],
            "notes": _notes(extra),
        })
    return rows


def _notes(extra: dict) -> list[str]:
    notes = [] if extra.get("file") else ["no written.toml"]
    named = extra.get("login_in_file")
    if named is not None and questions.identity(named) != extra.get("login"):
        notes.append(f"the file names the login {named!r}")
    if extra.get("term_in_file") not in (None, extra.get("term")):
        notes.append(f"the file names the term {extra['term_in_file']!r}, graded with {extra.get('term')!r}")
    return notes + list(extra.get("problems") or [])


def write(book, out: Path, only: str | None = None) -> dict[str, Path]:
    """OUT/written.html and OUT/written.md; the paths."""
    from grader.staff.report.pages import _environment, fence  # the reports' templates, filters and autoescaping

    out.mkdir(parents=True, exist_ok=True)
    env, data = _environment(), {**context(book, only), "fence": fence}
    paths = {}
    for suffix in ("html", "md"):
        paths[suffix] = out / f"written.{suffix}"
        paths[suffix].write_text(env.get_template(f"written.{suffix}.j2").render(data))
    return paths


def unmarked(book) -> list[written_marks.Answer]:
    """Answers that await a (new) mark: pending, or stale (marked when the text was another)."""
    return [a for a in written_marks.answers(book) if a.state in ("pending", "stale")]
