"""Trusted side: the gradebook, one SQLite file that a whole class's grading goes into.

Tables (the report and the LMS export read these):
- submissions: one row per student: what was graded (submission_sha256, suite_version,
  grader_version, scope = the problems graded, "" for all), when it was submitted and by whose
  word (submitted_at, time_source: "staff file", "LMS export", "modification time" or "unknown"),
  the deadline that applied (deadline, extension), what the late policy took (days_late,
  late_penalty_pct; 0 when the time is unknown), the raw score, the faults of the code (crash,
  hang, memory: JSON word -> count), the integrity flags (JSON) and the whole results.json
  (results) for feedback. status is one of outcomes.OUTCOMES: "graded", "unreadable" (its
  reason in `error`, a 0 that stands) or "grader error" (never a grade, retried on the next run).
- tests: one row per student and test: points, max_points, status, seconds, output.
- overrides: points a staff member set for one student's test, with who and why. Grading
  never writes this table, so an override outlives every regrade.
- final_scores (a view): per student, the score after overrides, staff marks of the written
  explanations (a mark counts for the text it marked) and the late penalty.
- written_marks: staff's points for written explanations (grader/staff/written/written_marks.py).
- results_history: every result a later one replaced (superseded_by "regrade": an applied
  change set; "submission": a new submission graded directly), with the suite version and
  the grader's version and git commit that produced it.
- pending: a regrade's change set, one row per student, waiting for staff to review it
  (`python -m grader regrade show`) and apply or discard it; it counts for nothing until then.
- schema_migrations: the migrations applied to this file (gradebook_schema.py's MIGRATIONS), by name.

The schema only grows through MIGRATIONS, in order: opening a gradebook applies the ones it
lacks in one transaction (after a copy of the file is kept beside it), so a gradebook of any
earlier version opens, upgrades and grades on. Every write names its columns.

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

from grader.staff.grading import outcomes
from grader.staff.grading.outcomes import DECIDED, GRADED, GRADER_ERROR, UNREADABLE

from grader.staff.grading.gradebook_schema import MIGRATIONS, VIEWS, Migration

DEFAULT_OUT = Path("grading-results")  # `grade`'s results folder, unless --out
DEFAULT_PATH = DEFAULT_OUT / "gradebook.sqlite"  # and the gradebook in it, unless --gradebook
OUTCOMES = outcomes.OUTCOMES


class GradebookError(RuntimeError):
    """A gradebook this grader cannot use (written by a newer grader, or not a gradebook)."""


@dataclass(frozen=True)
class Late:
    """When a submission came in (and by whose word), which deadline applied, and what the late policy takes off."""

    submitted_at: str | None = None  # ISO 8601; None: unknown
    days_late: int = 0
    penalty_pct: float = 0.0
    time_source: str = "unknown"  # "staff file", "LMS export", "modification time" or "unknown"
    deadline: str | None = None  # the deadline that applied (ISO 8601), an extension's if the student has one
    extension: str = ""  # the extension in words ("2 extra day(s)", "until 2025-10-20T23:59:00-07:00"); "" without one

    @property
    def time_unknown(self) -> bool:
        return self.submitted_at is None

    def columns(self) -> dict:
        return {"submitted_at": self.submitted_at, "days_late": self.days_late, "late_penalty_pct": self.penalty_pct,
                "time_source": self.time_source, "deadline": self.deadline, "extension": self.extension}

    @classmethod
    def of(cls, row) -> Late:
        return cls(row["submitted_at"], row["days_late"], row["late_penalty_pct"], row["time_source"], row["deadline"], row["extension"])


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
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise GradebookError(f"{path} is not a gradebook (SQLite says: {error})") from None
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.upgraded: list[str] = []  # the migrations this open applied
        self.backup: Path | None = None  # the copy of the file kept before they ran
        self._migrate()
        self._ensure_views()

    def close(self) -> None:
        self.db.close()

    def _transaction(self):
        return _Transaction(self.db)

    # --- schema -------------------------------------------------------------------------
    def _migrate(self) -> None:
        if not self._missing_migrations():
            return
        if self.students_table_exists():  # an existing gradebook: keep a copy of it as it was
            self.backup = self.path.with_name(f"{self.path.name}.before-{self._missing_migrations()[0].name.split()[0]}")
            copy = sqlite3.connect(self.backup)
            try:
                self.db.backup(copy)
            finally:
                copy.close()
        with self._transaction():  # read again inside it: another process may have upgraded the file meanwhile
            missing = self._missing_migrations()
            for migration in missing:
                for statement in migration.statements:
                    self.db.execute(statement)
                if migration.data is not None:
                    migration.data(self.db)
                self.db.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (migration.name, time.time()))
            self.db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        self.upgraded = [m.name for m in missing] if self.backup else []  # a new file is created, not upgraded

    def _missing_migrations(self) -> list[Migration]:
        """MIGRATIONS this file lacks, in order; GradebookError if it holds one this code does not know."""
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        applied = {row[0] for row in self.db.execute("SELECT name FROM schema_migrations")}
        newer = applied - {m.name for m in MIGRATIONS}
        if newer:
            raise GradebookError(f"{self.path} was written by a newer grader (schema {sorted(newer)[-1]!r}): update the grader")
        return [m for m in MIGRATIONS if m.name not in applied]

    def students_table_exists(self) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='submissions'").fetchone() is not None

    def _ensure_views(self) -> None:
        for name, sql in VIEWS.items():
            found = self.db.execute("SELECT sql FROM sqlite_master WHERE type='view' AND name=?", (name,)).fetchone()
            if found is None or found[0] != sql:
                with self._transaction():
                    self.db.execute(f"DROP VIEW IF EXISTS {name}")
                    self.db.execute(sql)

    def schema_version(self) -> str:
        """The last migration applied (its name begins with its number)."""
        return self.db.execute("SELECT name FROM schema_migrations ORDER BY name DESC LIMIT 1").fetchone()[0]

    def _insert(self, table: str, row: dict, replace: bool = True) -> None:
        columns = ", ".join(row)
        marks = ", ".join(f":{column}" for column in row)
        self.db.execute(f"INSERT {'OR REPLACE ' if replace else ''}INTO {table} ({columns}) VALUES ({marks})", row)

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
            student, UNREADABLE if unreadable else GRADED, sha256, scope, late, seconds, results=results, error=unreadable
        )
        self.db.execute("DELETE FROM tests WHERE student=?", (student,))
        for test in results["tests"]:
            self._insert("tests", {
                "student": student, "test_key": test["extra_data"]["key"], "module": test["tags"][0],
                "points": test["score"], "max_points": test["max_score"],
                "status": "skipped" if test["extra_data"].get("skipped") else test["status"],
                "seconds": test["extra_data"].get("seconds", 0.0), "output": test.get("output", ""),
            }, replace=False)

    def record_error(self, student: str, sha256: str, scope: str, error: str, late: Late, seconds: float) -> None:
        """The grader itself failed on this student: keep the message; the next run retries.

        A grade recorded before is kept (a failed regrade must not erase it)."""
        with self._transaction():
            if self.db.execute("SELECT 1 FROM submissions WHERE student=? AND status IN (?,?)", (student, *DECIDED)).fetchone():
                return
            self._put_submission(student, GRADER_ERROR, sha256, scope, late, seconds, error=error)

    def _put_submission(self, student, status, sha256, scope, late: Late, seconds, results=None, error=None) -> None:
        extra = (results or {}).get("extra_data", {})
        flags = list(extra.get("integrity_flags", []))
        self._insert("submissions", {
            "student": student, "status": status, "submission_sha256": sha256,
            "suite_version": extra.get("suite_version", ""), "grader_version": extra.get("grader_version", ""), "scope": scope,
            **late.columns(),
            "score": (results or {}).get("score", 0.0), "max_score": (results or {}).get("max_score", 0.0),
            "faults": json.dumps(outcomes.faults(flags)), "integrity_flags": json.dumps(outcomes.integrity(flags)),
            "results": json.dumps(results) if results else None, "error": error, "graded_at": time.time(), "seconds": seconds,
        })

    def set_late(self, student: str, late: Late) -> None:
        """Apply the late policy again (a changed deadline needs no regrade), to a pending regrade too."""
        assignments = ", ".join(f"{column}=:{column}" for column in late.columns())
        with self._transaction():
            for table in ("submissions", "pending"):
                self.db.execute(f"UPDATE {table} SET {assignments} WHERE student=:student", {**late.columns(), "student": student})

    # --- history and change sets (regrades staff review before they count) --------------
    def _archive(self, student: str, superseded_by: str) -> None:
        row = self.submission(student)
        if row is None or row["status"] != GRADED:
            return
        extra = (json.loads(row["results"]) if row["results"] else {}).get("extra_data", {})
        kept = ("student", "status", "submission_sha256", "suite_version", "grader_version", "scope", "score", "max_score", "results", "graded_at")
        self._insert("results_history", {
            **{column: row[column] for column in kept}, "grader_commit": extra.get("grader_commit", "unknown"),
            "superseded_at": time.time(), "superseded_by": superseded_by,
        }, replace=False)

    def record_pending(self, student: str, sha256: str, scope: str, results: dict, late: Late, seconds: float, out_file: Path) -> None:
        """Keep a regrade's result for review; the student's grade stays as it is."""
        with self._transaction():
            self._insert("pending", {
                "student": student, "submission_sha256": sha256, "suite_version": results["extra_data"].get("suite_version", ""),
                "scope": scope, **late.columns(), "results": json.dumps(results), "out_file": str(out_file),
                "seconds": seconds, "graded_at": time.time(),
            })

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
            late = Late.of(row)
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
            self._insert("overrides", {"student": student, "test_key": test_key, "points": points, "reason": reason, "by": by, "at": time.time()})

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

    def problem_scores(self, student: str) -> dict[str, tuple[float, float]]:
        """module -> (points after staff overrides and written marks, max points), from the tests table (as final_scores)."""
        rows = self.db.execute(
            "SELECT t.module, SUM(COALESCE(o.points, w.points, t.points)), SUM(t.max_points) FROM tests t "
            "JOIN submissions s ON s.student = t.student "
            "LEFT JOIN overrides o ON o.student = t.student AND o.test_key = t.test_key "
            "LEFT JOIN written_marks w ON w.student = t.student AND w.test_key = t.test_key "
            "AND w.answer_sha256 = json_extract(s.results, '$.extra_data.written.digests.\"' || t.test_key || '\"') "
            "WHERE t.student=? GROUP BY t.module",
            (student,),
        )
        return {module: (round(points, 4), round(top, 4)) for module, points, top in rows}

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
