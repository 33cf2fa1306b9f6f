"""The gradebook's schema: named migrations, a version, and a gradebook written by an older grader.

tests/data/gradebooks/main-620eecd.sqlite.gz was written by main before the schema had versions
(its README says how): three students, an override, an applied regrade in results_history and
a pending one. Today's code opens it, upgrades it in place (a copy of the old file kept), keeps
every row, and grades on: a new student graded into it, the pending regrade applied, the report
and the score table read from it, all through the CLI.
"""

import gzip
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.staff.grading import gradebook
from grader.staff.grading.gradebook import Gradebook, GradebookError, Migration
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e]

LEGACY = REPO_ROOT / "tests" / "data" / "gradebooks" / "main-620eecd.sqlite.gz"


def cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          env={"COLUMNS": "100", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture
def legacy(tmp_path) -> Path:
    path = tmp_path / "out" / "gradebook.sqlite"
    path.parent.mkdir()
    with gzip.open(LEGACY) as packed, open(path, "wb") as out:
        shutil.copyfileobj(packed, out)
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_a_gradebook_written_by_main_opens_upgrades_and_keeps_every_row(legacy):
    before = {table: rows(legacy, f"SELECT COUNT(*) FROM {table}")[0][0] for table in ("submissions", "tests", "overrides", "results_history", "pending")}
    book = Gradebook(legacy)
    assert book.upgraded == [m.name for m in gradebook.MIGRATIONS] and book.schema_version() == gradebook.MIGRATIONS[-1].name
    assert book.backup.is_file() and rows(book.backup, "SELECT COUNT(*) FROM submissions") == [(3,)]  # the old file, as it was
    after = {table: len(book.db.execute(f"SELECT * FROM {table}").fetchall()) for table in before}
    assert after == before == {"submissions": 3, "tests": 87, "overrides": 1, "results_history": 1, "pending": 1}
    assert {s: book.submission(s)["status"] for s in book.students()} == {"ann": "graded", "bob": "graded", "eve": "unreadable"}
    assert book.submission("bob")["late_penalty_pct"] == 10 and book.submission("bob")["time_source"] == "recorded before time sources"
    assert book.final_scores()["bob"]["final"] == pytest.approx(0.9 * 7.4)  # the override (0.5) still counts
    book.close()
    reopened = Gradebook(legacy)
    assert reopened.upgraded == [] and reopened.backup is None  # upgraded once
    assert rows(legacy, "PRAGMA user_version") == [(len(gradebook.MIGRATIONS),)]


def test_the_upgraded_gradebook_grades_on_through_the_cli(legacy, tmp_path):
    """A new student graded into it (an empty folder: recorded with the new columns, no sandbox needed),
    the old pending regrade applied, then the score table and the report read it."""
    klass = tmp_path / "class"
    (klass / "dan").mkdir(parents=True)
    graded = cli("grade", str(klass), "--out", str(legacy.parent), "--gradebook", str(legacy), "--only", "tensors", "--skip-canary")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "gradebook upgraded to schema" in graded.stdout and ".before-0001" in graded.stdout
    assert rows(legacy, "SELECT status, error FROM submissions WHERE student='dan'") == [("unreadable", "the submission is empty: an empty folder")]
    applied = cli("regrade", "apply", "bob", "--gradebook", str(legacy))
    assert applied.returncode == 0 and "applied 1 pending regrade(s): bob" in applied.stdout, applied.stdout + applied.stderr
    assert rows(legacy, "SELECT COUNT(*) FROM results_history WHERE student='bob'") == [(1,)]
    shown = cli("show", "--gradebook", str(legacy))
    assert shown.returncode == 0 and "bob" in shown.stdout and "dan: unreadable (0 points)" in shown.stdout, shown.stdout + shown.stderr
    report = cli("report", str(tmp_path / "report"), "--gradebook", str(legacy))
    assert report.returncode == 0, report.stdout + report.stderr
    assert "| [dan](feedback/dan.md) |" in (tmp_path / "report" / "report.md").read_text()


def test_a_new_table_is_one_more_migration_and_a_newer_gradebook_is_refused(tmp_path, monkeypatch):
    """How another part of the grader adds its table (e.g. the written part's manual points): one
    entry at the end of MIGRATIONS; an existing gradebook gets exactly that step, once. A gradebook
    that holds a migration this code does not know was written by a newer grader: refused, untouched."""
    path = tmp_path / "gradebook.sqlite"
    Gradebook(path).close()
    extra = Migration("0099 test: manual points", ("CREATE TABLE manual_points (student TEXT NOT NULL, part TEXT NOT NULL, points REAL NOT NULL)",))
    monkeypatch.setattr(gradebook, "MIGRATIONS", (*gradebook.MIGRATIONS, extra))
    book = Gradebook(path)
    assert book.upgraded == [extra.name] and book.schema_version() == extra.name
    book.db.execute("INSERT INTO manual_points VALUES ('ann', 'written', 3)")
    book.close()
    monkeypatch.setattr(gradebook, "MIGRATIONS", gradebook.MIGRATIONS[:-1])
    with pytest.raises(GradebookError, match="written by a newer grader"):
        Gradebook(path)
    assert rows(path, "SELECT * FROM manual_points") == [("ann", "written", 3.0)]


def test_writes_name_their_columns():
    """No positional INSERT: a new column can never shift another's value."""
    source = (REPO_ROOT / "grader" / "staff" / "grading" / "gradebook.py").read_text()
    assert "VALUES (?," not in source.replace("(name, applied_at) VALUES (?, ?)", "")
