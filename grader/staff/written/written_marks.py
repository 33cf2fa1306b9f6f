"""Trusted side (staff): the written explanations' marks, kept in the gradebook.

Table written_marks: one row per student and explanation (test key written/explain::QUESTION):
the points a staff member gave, who, when, their comment, and the sha256 of the text they marked.
A mark counts (in the gradebook's final_scores view, the feedback and grades.csv) only while the
student's graded answer is that text: a new submission with another text makes it "stale", and
the question is unmarked again. Grading never writes this table, so marks outlive regrades of
the same text. States of an explanation, as staff commands list them:

    unanswered  nothing to mark: 0 at once
    pending     answered, not marked yet: counts 0 and every page says it awaits marking
    marked      a mark for this very text
    stale       a mark for an earlier text: shown to staff, counted nowhere
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from grader.core.written import EXPLAIN, PART, TOLERANCE, digest, refresh_summary

# The gradebook's migration "0003 written" (grader/staff/grading/gradebook.py's MIGRATIONS) creates it.
TABLE = """
CREATE TABLE IF NOT EXISTS written_marks (
    student TEXT NOT NULL,
    test_key TEXT NOT NULL,
    points REAL NOT NULL,
    comment TEXT NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    answer_sha256 TEXT NOT NULL,
    PRIMARY KEY (student, test_key)
)
"""


@dataclass
class Answer:
    """One student's answer to one explanation question, and where its marking stands."""

    student: str
    test_key: str
    max_points: float
    text: str
    state: str  # unanswered / pending / marked / stale
    mark: sqlite3.Row | None

    @property
    def question(self) -> str:
        return self.test_key[len(EXPLAIN):]


def answers(book, students: list[str] | None = None) -> list[Answer]:
    """Every graded student's explanations (in the rubric's order), with their marks."""
    found = []
    for student in students if students is not None else book.students():
        results = book.results(student)
        if results is None or book.submission(student)["status"] != "graded":
            continue
        written = (results.get("extra_data") or {}).get(PART) or {}
        marks = {m["test_key"]: m for m in marks_of(book, student)}
        for test in results["tests"]:
            key = test["extra_data"]["key"]
            if key.startswith(EXPLAIN):
                text = (written.get("answers") or {}).get(key[len(EXPLAIN):], "")
                found.append(Answer(student, key, test["max_score"], text, _state(text, marks.get(key)), marks.get(key)))
    return found


def _state(text: str, mark: sqlite3.Row | None) -> str:
    if not text:
        return "unanswered"
    if mark is None:
        return "pending"
    return "marked" if mark["answer_sha256"] == digest(text) else "stale"


def marks_of(book, student: str) -> list[sqlite3.Row]:
    return book.db.execute("SELECT * FROM written_marks WHERE student = ? ORDER BY test_key", (student,)).fetchall()


def set_mark(book, answer: Answer, points: float, by: str, comment: str) -> None:
    """Record staff's points for `answer`'s current text (replacing an earlier mark)."""
    with book._transaction():
        book._insert("written_marks", {
            "student": answer.student, "test_key": answer.test_key, "points": points, "comment": comment, "by": by,
            "at": time.time(), "answer_sha256": digest(answer.text),
        })


def clear_mark(book, student: str, test_key: str) -> bool:
    with book._transaction():
        return book.db.execute("DELETE FROM written_marks WHERE student = ? AND test_key = ?", (student, test_key)).rowcount > 0


def apply(results: dict, marks: list[sqlite3.Row]) -> dict:
    """`results` (a results.json dict) with the marks that count in it: score, status "marked", the comment."""
    digests = ((results.get("extra_data") or {}).get(PART) or {}).get("digests") or {}
    by_key = {m["test_key"]: m for m in marks}
    for test in results.get("tests", []):
        mark = by_key.get(test["extra_data"]["key"])
        if mark is not None and test["status"] == "pending" and digests.get(mark["test_key"]) == mark["answer_sha256"]:
            test["score"], test["status"] = mark["points"], "marked"
            note = f"Marked by the course staff: {mark['points']:g} / {test['max_score']:g}."
            test["output"] = f"{note} {mark['comment']}".strip()
    results["score"] = round(sum(t["score"] for t in results.get("tests", [])), 4)
    return refresh_summary(results) if by_key else results


def pending_points(results: dict | None) -> float:
    """Points of explanations still awaiting marking in `results` (marks applied)."""
    return round(sum(t["max_score"] for t in (results or {}).get("tests", []) if t["status"] == "pending"), 4)


def feedback(results: dict | None) -> dict | None:
    """The written part as a feedback page shows it (marks applied), or None where it was not graded."""
    tests = [t for t in (results or {}).get("tests", []) if (t.get("tags") or [""])[0] == PART]
    if not tests:
        return None
    extra = ((results or {}).get("extra_data") or {}).get(PART) or {}
    rows = [{"kind": t["extra_data"]["key"].split("/", 1)[1].split("::")[0], "name": t["extra_data"]["key"].split("::")[-1],
             "score": t["score"], "max_score": t["max_score"], "status": t["status"], "output": t.get("output", "")} for t in tests]
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "max_score": round(sum(t["max_score"] for t in tests), 4),
        "pending": pending_points(results),
        "login": extra.get("login", ""),
        "tolerance": f"{TOLERANCE:.0%}",
        "problems": list(extra.get("problems") or []),
        "napkin": [r for r in rows if r["kind"] == "napkin"],
        "explain": [r for r in rows if r["kind"] == "explain"],
    }
