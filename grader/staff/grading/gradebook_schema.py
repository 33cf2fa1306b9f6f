"""The gradebook's schema, as migrations: each step once, in order, never edited once applied.

gradebook.py applies the ones a file lacks when it opens it (a copy of the file kept beside it);
the views are recreated whenever their SQL here changes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Callable

from grader.staff.grading import outcomes
from grader.staff.written import written_marks


@dataclass(frozen=True)
class Migration:
    """One step of the schema: SQL statements, then (optionally) a data step in Python."""

    name: str  # recorded in schema_migrations once applied; never renamed
    statements: tuple[str, ...]
    data: Callable[[sqlite3.Connection], None] | None = None


_BASE = (  # the schema main had before versions (commit 620eecd): IF NOT EXISTS, so it fits those files
    """CREATE TABLE IF NOT EXISTS submissions (
        student TEXT PRIMARY KEY, status TEXT NOT NULL, submission_sha256 TEXT NOT NULL, suite_version TEXT NOT NULL,
        grader_version TEXT NOT NULL, scope TEXT NOT NULL, submitted_at TEXT, days_late INTEGER NOT NULL DEFAULT 0,
        late_penalty_pct REAL NOT NULL DEFAULT 0, score REAL NOT NULL, max_score REAL NOT NULL, integrity_flags TEXT NOT NULL,
        results TEXT, error TEXT, graded_at REAL NOT NULL, seconds REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tests (
        student TEXT NOT NULL REFERENCES submissions(student) ON DELETE CASCADE, test_key TEXT NOT NULL, module TEXT NOT NULL,
        points REAL NOT NULL, max_points REAL NOT NULL, status TEXT NOT NULL, seconds REAL NOT NULL, output TEXT NOT NULL,
        PRIMARY KEY (student, test_key))""",
    """CREATE TABLE IF NOT EXISTS overrides (
        student TEXT NOT NULL, test_key TEXT NOT NULL, points REAL NOT NULL, reason TEXT NOT NULL, by TEXT NOT NULL,
        at REAL NOT NULL, PRIMARY KEY (student, test_key))""",
    """CREATE TABLE IF NOT EXISTS results_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, student TEXT NOT NULL, status TEXT NOT NULL, submission_sha256 TEXT NOT NULL,
        suite_version TEXT NOT NULL, grader_version TEXT NOT NULL, grader_commit TEXT NOT NULL, scope TEXT NOT NULL,
        score REAL NOT NULL, max_score REAL NOT NULL, results TEXT, graded_at REAL NOT NULL, superseded_at REAL NOT NULL,
        superseded_by TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pending (
        student TEXT PRIMARY KEY, submission_sha256 TEXT NOT NULL, suite_version TEXT NOT NULL, scope TEXT NOT NULL,
        submitted_at TEXT, days_late INTEGER NOT NULL DEFAULT 0, late_penalty_pct REAL NOT NULL DEFAULT 0,
        results TEXT NOT NULL, out_file TEXT NOT NULL, seconds REAL NOT NULL, graded_at REAL NOT NULL)""",
)


def _faults_apart_from_integrity(db: sqlite3.Connection) -> None:
    """Rows graded before: their flags split into faults of the code and integrity flags."""
    rows = db.execute("SELECT student, integrity_flags FROM submissions").fetchall()
    for student, flags_json in rows:
        flags = json.loads(flags_json or "[]")
        db.execute(
            "UPDATE submissions SET faults = ?, integrity_flags = ? WHERE student = ?",
            (json.dumps(outcomes.faults(flags)), json.dumps(outcomes.integrity(flags)), student),
        )


_LATE_COLUMNS = (  # where the time came from and which deadline applied (an extension moves it)
    "time_source TEXT NOT NULL DEFAULT 'unknown'",
    "deadline TEXT",
    "extension TEXT NOT NULL DEFAULT ''",
)

# In order. A new table or column is one more entry at the end (never an edit of an applied one).
MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001 base: submissions, tests, overrides, results_history, pending", _BASE),
    Migration(
        "0002 time sources, extensions, faults apart from integrity, 'grader error'",
        (
            *(f"ALTER TABLE {table} ADD COLUMN {column}" for table in ("submissions", "pending") for column in _LATE_COLUMNS),
            "ALTER TABLE submissions ADD COLUMN faults TEXT NOT NULL DEFAULT '{}'",
            "UPDATE submissions SET status = 'grader error' WHERE status = 'error'",
            # A time the old grader read off a folder's modification time is no staff's word: unknown, no penalty.
            "UPDATE submissions SET time_source = CASE WHEN submitted_at IS NULL THEN 'unknown' ELSE 'recorded before time sources' END",
            "UPDATE pending SET time_source = CASE WHEN submitted_at IS NULL THEN 'unknown' ELSE 'recorded before time sources' END",
        ),
        _faults_apart_from_integrity,
    ),
    Migration("0003 written: staff's marks of the written explanations", (written_marks.TABLE,)),
)

# Views hold no data: recreated whenever their SQL here changes.
VIEWS = {
    "final_scores": """CREATE VIEW final_scores AS
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
GROUP BY s.student""",
}
