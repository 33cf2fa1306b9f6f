"""The written part's round trip, through the CLI as staff run it.

A class of three with a course.toml whose [course] term draws the numbers: alice answers her own
questions (one explanation holds markup), bob hands in alice's file, carol hands in no written.toml.
`grade --only written` (no suite, no sandbox: cheap) grades the numbers; `written unmarked` and
`written page` show what awaits marking; `written mark` marks; `report` puts it in the feedback
and grades.csv; a forced regrade of the same text keeps the mark; then alice changes an
explanation: her mark goes stale and counts nowhere. Each step is a fixture that keeps what the
command printed, so the tests only read, in any order.
"""

import contextlib
import csv
import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.core.written_key import expected
from grader.staff.grading.gradebook import Gradebook
from student import questions
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("written-cli"), pytest.mark.timeout(600)]

TERM = "2025-fall"
MARKUP = "<script>alert(1)</script> Forward 2 FLOPs, backward 4 ``` |"
COMMENT = "Say how much less the first layer costs."


def cli(*args: str) -> subprocess.CompletedProcess:
    """A staff command in its own process, as a TA types it (grading and reporting)."""
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=300)


def quick(*args: str) -> tuple[int, str]:
    """A staff command in this process (the same argument parsing; no interpreter start-up): its exit status and output."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            status = main(list(args))
        except SystemExit as stop:  # a refusal: its message is what the TA reads
            status = stop.code if isinstance(stop.code, int) else 2
            print(stop.code if isinstance(stop.code, str) else "", file=printed)
    return status, printed.getvalue()


def answers(login: str, six_nd: str) -> str:
    lines = [f'login = "{login}"', f'term = "{TERM}"', "[napkin]"]
    lines += [f"{key} = {value!r}" for key, value in expected(questions.draw(login, TERM)).items()]
    return "\n".join([*lines, "[explain]", f"six_nd = {json.dumps(six_nd)}", 'memory = "Weights, gradients, state, activations."']) + "\n"


def student(root: Path, name: str, written_text: str | None) -> None:
    (root / name / "assignment").mkdir(parents=True)
    (root / name / "assignment" / "flops.py").write_text("def matmul_flops(m, k, n):\n    return 0\n")
    if written_text is not None:
        (root / name / "written.toml").write_text(written_text)


def final_score(book: Path, name: str) -> float:
    opened = Gradebook(book)
    try:
        return opened.final_scores()[name]["final"]
    finally:
        opened.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("written-cli")
    klass = base / "class"
    student(klass, "alice", answers("alice", MARKUP))
    student(klass, "bob", answers("alice", MARKUP))  # alice's file: her numbers, her login
    student(klass, "carol", None)
    (base / "course.toml").write_text(f'[course]\nname = "CS 336"\nterm = "{TERM}"\n')
    out = base / "out"
    run = {"base": base, "klass": klass, "out": out, "book": out / "gradebook.sqlite", "config": base / "course.toml"}
    run["grade"] = cli("grade", str(klass), "--only", "written", "--out", str(out), "--config", str(run["config"]))
    run["unmarked"] = quick("written", "unmarked", "--gradebook", str(run["book"]))
    run["page"] = quick("written", "page", str(base / "page"), "--gradebook", str(run["book"]))
    return run


@pytest.fixture(scope="module")
def marked(course) -> dict:
    book = str(course["book"])
    run = {
        "too_many": quick("written", "mark", "alice", "six_nd", "2.5", "--by", "TA Jo", "--gradebook", book),
        "unanswered": quick("written", "mark", "carol", "six_nd", "1", "--by", "TA Jo", "--gradebook", book),
        "anonymous": quick("written", "mark", "alice", "six_nd", "1", "--gradebook", book),
        "mark": cli("written", "mark", "alice", "six_nd", "1.5", "--by", "TA Jo", "--comment", COMMENT, "--gradebook", book),
        "report": cli("report", str(course["base"] / "report"), "--gradebook", book),
    }
    run["csv"] = {r["student"]: r for r in csv.DictReader(io.StringIO((course["base"] / "report" / "grades.csv").read_text()))}
    run["feedback"] = (course["base"] / "report" / "feedback" / "alice.md").read_text()
    grade = ("grade", str(course["klass"]), "--only", "written", "--out", str(course["out"]), "--config", str(course["config"]))
    run["regrade"] = quick(*grade, "--regrade", "alice")  # the same text: a change set, the mark kept
    run["apply"] = quick("regrade", "apply", "alice", "--gradebook", book)
    run["final_after_regrade"] = final_score(course["book"], "alice")
    return run


@pytest.fixture(scope="module")
def changed(course, marked) -> dict:
    (course["klass"] / "alice" / "written.toml").write_text(answers("alice", "A new text, after the mark."))
    grade = ("grade", str(course["klass"]), "--only", "written", "--out", str(course["out"]), "--config", str(course["config"]))
    return {"grade": quick(*grade), "unmarked": quick("written", "unmarked", "--gradebook", str(course["book"])),
            "final": final_score(course["book"], "alice")}


def test_grading_draws_each_student_their_numbers_and_flags_a_borrowed_file(course):
    finished = course["grade"]
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "no student code run" in finished.stdout
    scores = {s: json.loads((course["out"] / s / "results.json").read_text()) for s in ("alice", "bob", "carol")}
    assert [scores[s]["score"] for s in ("alice", "bob", "carol")] == [6, 0, 0]
    assert all(data["max_score"] == 15 for data in scores.values())
    assert [f["kind"] for f in scores["bob"]["extra_data"]["integrity_flags"]] == ["written-login"]
    assert "4 written explanation(s) await marking" in " ".join(finished.stdout.split())


def test_unmarked_lists_what_awaits_a_mark(course):
    status, listed = course["unmarked"]
    assert status == 0
    rows = [line.split("\t") for line in listed.splitlines() if "\t" in line]
    assert sorted((r[0], r[1], r[3]) for r in rows) == sorted((s, q, "pending") for s in ("alice", "bob") for q in ("six_nd", "memory"))


def test_the_marking_page_shows_each_answer_as_text(course):
    assert course["page"][0] == 0
    html = (course["base"] / "page" / "written.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "python -m grader written mark alice six_nd POINTS --by NAME" in html
    assert "The same text as: bob" in html, "identical answers are pointed out"
    markdown = (course["base"] / "page" / "written.md").read_text()
    assert f"````text\n{MARKUP}\n````" in markdown, "the answer sits in a code block its backticks cannot close"


def test_a_mark_is_checked_before_it_is_kept(marked):
    assert marked["too_many"][0] != 0 and "between 0 and the question's 2" in marked["too_many"][1]
    assert marked["unanswered"][0] != 0, "an unanswered question has nothing to mark"
    assert marked["anonymous"][0] != 0, "who marked is required"
    assert marked["mark"].returncode == 0, marked["mark"].stderr
    assert "final score 7.5" in marked["mark"].stdout


def test_marks_count_in_feedback_and_grades_csv(marked):
    assert marked["report"].returncode == 0, marked["report"].stderr
    rows = marked["csv"]
    assert (rows["alice"]["final"], rows["alice"]["written"], rows["alice"]["written_pending"]) == ("7.5", "7.5", "2")
    assert (rows["bob"]["final"], rows["bob"]["written_pending"], rows["bob"]["status"]) == ("0", "4", "graded")
    assert rows["bob"]["integrity_flags"] == "written-login"  # an integrity flag, apart from the outcome
    assert (rows["carol"]["written"], rows["carol"]["written_pending"]) == ("0", "0")
    feedback = marked["feedback"]
    assert f"Marked by the course staff: 1.5 / 2. {COMMENT}" in feedback
    assert "2 of the 15 points (written explanations) await marking" in feedback, "pending is said, not silently 0"
    assert "TA Jo" not in feedback, "who marked is for staff"


def test_a_regrade_of_the_same_text_keeps_the_mark(marked):
    assert marked["regrade"][0] == 0 and marked["apply"][0] == 0, marked["regrade"][1] + marked["apply"][1]
    assert marked["final_after_regrade"] == 7.5


def test_a_changed_answer_makes_its_mark_stale(changed):
    assert changed["grade"][0] == 0, changed["grade"][1]
    assert "alice\tsix_nd\t2 points\tstale" in changed["unmarked"][1]
    assert changed["final"] == 6, "a mark of another text counts nowhere"


def test_an_older_gradebook_gets_the_marks_table_and_a_view_that_counts_them(tmp_path):
    """A gradebook main wrote before the written part (tests/data/gradebooks/): its migrations add the table."""
    path = tmp_path / "old.sqlite"
    with gzip.open(REPO_ROOT / "tests" / "data" / "gradebooks" / "main-620eecd.sqlite.gz") as packed, open(path, "wb") as out:
        shutil.copyfileobj(packed, out)
    Gradebook(path).close()
    with sqlite3.connect(path) as db:
        view = db.execute("SELECT sql FROM sqlite_master WHERE name = 'final_scores'").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "written_marks" in view and "written_marks" in tables
