"""Trusted side: the gradebook, one SQLite file that a whole class's grading goes into.

Tables (the report and any LMS export read these):
- submissions: one row per student: what was graded (submission_sha256, suite_version,
  grader_version, scope = the problems graded, "" for all), when it was submitted
  (submitted_at, days_late, late_penalty_pct), the raw score, integrity flags and the whole
  results.json (results) for feedback; status is one of OUTCOMES: "graded", "unreadable" (the
  submission cannot be read: an empty folder, a corrupt .zip; its reason in `error`, a 0 that
  stands) or "error" (the grader itself failed: never a grade, retried on the next run).
- tests: one row per student and test: points, max_points, status, seconds, output.
- overrides: points a staff member set for one student's test, with who and why. Grading
  never writes this table, so an override outlives every regrade.
- final_scores (a view): per student, the score after overrides, staff marks of the written
  explanations (a mark counts for the text it marked) and the late penalty.
- written_marks: staff's points for written explanations (grader/staff/written_marks.py).
- results_history: every result a later one replaced (superseded_by "regrade": an applied
  change set; "submission": a new submission graded directly), with the suite version and
  the grader's version and git commit that produced it.
- pending: a regrade's change set, one row per student, waiting for staff to review it
  (`python -m grader regrade show`) and apply or discard it; it counts for nothing until then.

Only the driver writes (workers return results to it). Every write is one transaction in
WAL mode with synchronous=FULL: a process killed at any instant leaves either the old rows
or the new ones, never a student half recorded.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from grader.staff import written_marks

DEFAULT_OUT = Path("grading-results")  # `grade`'s results folder, unless --out
DEFAULT_PATH = DEFAULT_OUT / "gradebook.sqlite"  # and the gradebook in it, unless --gradebook
OUTCOMES = ("graded", "unreadable", "error")
DECIDED = ("graded", "unreadable")  # outcomes the next run keeps; an "error" is graded again

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    student TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    submission_sha256 TEXT NOT NULL,
    suite_version TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    scope TEXT NOT NULL,
    submitted_at TEXT,
    days_late INTEGER NOT NULL DEFAULT 0,
    late_penalty_pct REAL NOT NULL DEFAULT 0,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    integrity_flags TEXT NOT NULL,
    results TEXT,
    error TEXT,
    graded_at REAL NOT NULL,
    seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tests (
    student TEXT NOT NULL REFERENCES submissions(student) ON DELETE CASCADE,
    test_key TEXT NOT NULL,
    module TEXT NOT NULL,
    points REAL NOT NULL,
    max_points REAL NOT NULL,
    status TEXT NOT NULL,
    seconds REAL NOT NULL,
    output TEXT NOT NULL,
    PRIMARY KEY (student, test_key)
);
CREATE TABLE IF NOT EXISTS overrides (
    student TEXT NOT NULL,
    test_key TEXT NOT NULL,
    points REAL NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (student, test_key)
);
CREATE TABLE IF NOT EXISTS results_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    status TEXT NOT NULL,
    submission_sha256 TEXT NOT NULL,
    suite_version TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    grader_commit TEXT NOT NULL,
    scope TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    results TEXT,
    graded_at REAL NOT NULL,
    superseded_at REAL NOT NULL,
    superseded_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    student TEXT PRIMARY KEY,
    submission_sha256 TEXT NOT NULL,
    suite_version TEXT NOT NULL,
    scope TEXT NOT NULL,
    submitted_at TEXT,
    days_late INTEGER NOT NULL DEFAULT 0,
    late_penalty_pct REAL NOT NULL DEFAULT 0,
    results TEXT NOT NULL,
    out_file TEXT NOT NULL,
    seconds REAL NOT NULL,
    graded_at REAL NOT NULL
);
CREATE VIEW IF NOT EXISTS final_scores AS
SELECT s.student,
       s.status,
       COALESCE(SUM(COALESCE(o.points, w.points, t.points)), 0) AS score,
       s.max_score,
       s.late_penalty_pct,
       COALESCE(SUM(COALESCE(o.points, w.points, t.points)), 0) * (1 - s.late_penalty_pct / 100.0) AS final
FROM submissions s
LEFT JOIN tests t ON t.student = s.student
LEFT JOIN overrides o ON o.student = t.student AND o.test_key = t.test_key
LEFT JOIN written_marks w ON w.student = t.student AND w.test_key = t.test_key
    AND w.answer_sha256 = json_extract(s.results, '$.extra_data.written.digests."' || t.test_key || '"')
GROUP BY s.student;
"""


@dataclass(frozen=True)
class Late:
    """When a submission came in and what the late policy takes off for it."""

    submitted_at: str | None = None  # ISO 8601
    days_late: int = 0
    penalty_pct: float = 0.0


def unreadable_reason(results: dict) -> str | None:
    """Why the grader could not read the submission behind `results`, or None if it could."""
    extra = results.get("extra_data") or {}
    return extra.get("unreadable") or extra.get("error")  # "error": what results.json said before "unreadable"


class Gradebook:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)  # transactions are explicit
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        written_marks.create_tables(self.db)  # before SCHEMA: final_scores reads the marks
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _transaction(self):
        return _Transaction(self.db)

    # --- what is already done ---------------------------------------------------------
    def is_complete(self, student: str, sha256: str, suite_version: str, scope: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM submissions WHERE student=? AND status IN (?,?) AND submission_sha256=? AND suite_version=? AND scope=?",
            (student, *DECIDED, sha256, suite_version, scope),
        ).fetchone()
        return row is not None

    # --- writes (the driver's only) -----------------------------------------------------
    def record(self, student: str, sha256: str, scope: str, results: dict, late: Late, seconds: float) -> None:
        """Replace the student's grade with `results` (a results.json dict), in one transaction;
        the grade it replaces goes into results_history. A submission the grader could not
        read is recorded as "unreadable", with its reason."""
        with self._transaction():
            self._archive(student, "submission")
            self._replace(student, sha256, scope, results, late, seconds)
            self.db.execute("DELETE FROM pending WHERE student=?", (student,))  # a regrade of older work is moot now

    def _replace(self, student: str, sha256: str, scope: str, results: dict, late: Late, seconds: float) -> None:
        unreadable = unreadable_reason(results)
        self._put_submission(
            student, "unreadable" if unreadable else "graded", sha256, scope, late, seconds, results=results, error=unreadable
        )
        self.db.execute("DELETE FROM tests WHERE student=?", (student,))
        self.db.executemany(
            "INSERT INTO tests VALUES (?,?,?,?,?,?,?,?)",
            [
                (student, t["extra_data"]["key"], t["tags"][0], t["score"], t["max_score"],
                 "skipped" if t["extra_data"].get("skipped") else t["status"],
                 t["extra_data"].get("seconds", 0.0), t.get("output", ""))
                for t in results["tests"]
            ],
        )

    def record_error(self, student: str, sha256: str, scope: str, error: str, late: Late, seconds: float) -> None:
        """The grader itself failed on this student: keep the message; the next run retries.

        A grade recorded before is kept (a failed regrade must not erase it)."""
        with self._transaction():
            if self.db.execute("SELECT 1 FROM submissions WHERE student=? AND status IN (?,?)", (student, *DECIDED)).fetchone():
                return
            self._put_submission(student, "error", sha256, scope, late, seconds, error=error)

    def _put_submission(self, student, status, sha256, scope, late: Late, seconds, results=None, error=None) -> None:
        extra = (results or {}).get("extra_data", {})
        self.db.execute(
            "INSERT OR REPLACE INTO submissions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                student, status, sha256, extra.get("suite_version", ""), extra.get("grader_version", ""), scope,
                late.submitted_at, late.days_late, late.penalty_pct,
                (results or {}).get("score", 0.0), (results or {}).get("max_score", 0.0),
                json.dumps(extra.get("integrity_flags", [])), json.dumps(results) if results else None,
                error, time.time(), seconds,
            ),
        )

    def set_late(self, student: str, late: Late) -> None:
        """Apply the late policy again (a changed deadline needs no regrade), to a pending regrade too."""
        with self._transaction():
            for table in ("submissions", "pending"):
                self.db.execute(
                    f"UPDATE {table} SET submitted_at=?, days_late=?, late_penalty_pct=? WHERE student=?",
                    (late.submitted_at, late.days_late, late.penalty_pct, student),
                )

    # --- history and change sets (regrades staff review before they count) --------------
    def _archive(self, student: str, superseded_by: str) -> None:
        row = self.submission(student)
        if row is None or row["status"] != "graded":
            return
        extra = (json.loads(row["results"]) if row["results"] else {}).get("extra_data", {})
        self.db.execute(
            "INSERT INTO results_history (student, status, submission_sha256, suite_version, grader_version, grader_commit, "
            "scope, score, max_score, results, graded_at, superseded_at, superseded_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (student, row["status"], row["submission_sha256"], row["suite_version"], row["grader_version"],
             extra.get("grader_commit", "unknown"), row["scope"], row["score"], row["max_score"], row["results"],
             row["graded_at"], time.time(), superseded_by),
        )

    def record_pending(self, student: str, sha256: str, scope: str, results: dict, late: Late, seconds: float, out_file: Path) -> None:
        """Keep a regrade's result for review; the student's grade stays as it is."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO pending VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (student, sha256, results["extra_data"].get("suite_version", ""), scope, late.submitted_at, late.days_late,
                 late.penalty_pct, json.dumps(results), str(out_file), seconds, time.time()),
            )

    def is_pending(self, student: str, sha256: str, suite_version: str, scope: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM pending WHERE student=? AND submission_sha256=? AND suite_version=? AND scope=?",
            (student, sha256, suite_version, scope),
        ).fetchone()
        return row is not None

    def pending(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM pending ORDER BY student").fetchall()

    def apply_pending(self, student: str) -> dict:
        """The pending regrade becomes the student's grade (overrides stay); the old one goes to history."""
        with self._transaction():
            row = self.db.execute("SELECT * FROM pending WHERE student=?", (student,)).fetchone()
            results = json.loads(row["results"])
            self._archive(student, "regrade")
            late = Late(row["submitted_at"], row["days_late"], row["late_penalty_pct"])
            self._replace(student, row["submission_sha256"], row["scope"], results, late, row["seconds"])
            self.db.execute("DELETE FROM pending WHERE student=?", (student,))
        return results

    def discard_pending(self, student: str) -> bool:
        with self._transaction():
            return self.db.execute("DELETE FROM pending WHERE student=?", (student,)).rowcount > 0

    def history(self, student: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM results_history WHERE student=? ORDER BY id", (student,)).fetchall()

    def set_override(self, student: str, test_key: str, points: float, reason: str, by: str) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO overrides VALUES (?,?,?,?,?,?)", (student, test_key, points, reason, by, time.time()))

    def clear_override(self, student: str, test_key: str) -> bool:
        with self._transaction():
            return self.db.execute("DELETE FROM overrides WHERE student=? AND test_key=?", (student, test_key)).rowcount > 0

    # --- reads ------------------------------------------------------------------------
    def students(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT student FROM submissions ORDER BY student")]

    def submission(self, student: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM submissions WHERE student=?", (student,)).fetchone()

    def results(self, student: str) -> dict | None:
        row = self.submission(student)
        return json.loads(row["results"]) if row is not None and row["results"] else None

    def tests(self, student: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM tests WHERE student=? ORDER BY test_key", (student,)).fetchall()

    def test(self, student: str, test_key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM tests WHERE student=? AND test_key=?", (student, test_key)).fetchone()

    def overrides(self, student: str | None = None) -> list[sqlite3.Row]:
        if student is None:
            return self.db.execute("SELECT * FROM overrides ORDER BY student, test_key").fetchall()
        return self.db.execute("SELECT * FROM overrides WHERE student=? ORDER BY test_key", (student,)).fetchall()

    def final_scores(self) -> dict[str, sqlite3.Row]:
        return {r["student"]: r for r in self.db.execute("SELECT * FROM final_scores ORDER BY student")}


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, error, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False
