"""`python -m grader grade` and `report` as a TA runs them: three outcomes, and text that stays text.

One small class, graded `--only named_dims` (the cheapest problem): a copy of the reference, one whose
named_dims.py has a syntax error, one without named_dims.py, an empty folder, a corrupt .zip, and two students
whose folder names are a spreadsheet formula and terminal markup with an escape sequence.
The first run has a sandbox that dies once started (GRADER_TEST_BREAK_ZYGOTE): the graded
students are grader errors, never grades, and the exit status says so; the second run retries
exactly those. Both run with a pipe for stdout and COLUMNS=80, as a log file sees them.
"""

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from seam import REPO_ROOT
from grader.core import rubric
from grader.core.student_text import printable
from grader.core.machine import isolation_level
from grader.core.variants import reference_into
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("cli-outcomes"), pytest.mark.timeout(900)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

PROBLEM = QUICKEST
SCOPE = ["--only", PROBLEM, "--call-timeout", "8", "--test-timeout", "30", "--submission-timeout", "300", "--jobs", "2"]
FORMULA = '=HYPERLINK("x")'
MARKUP = "[red]bob\x1b[2J"  # rich markup and "clear the screen"
GRADED = ("alice", "nomodule", "syntax")
POINTS = round(rubric.load().only([PROBLEM]).total, 4)  # the points of the one problem graded


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "GRADER_TEST_BREAK_ZYGOTE"}
    environment.update(COLUMNS="80", **env)
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True, env=environment)


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "class"
    reference_into(root / "alice")
    # Inside her own folder: hers to write, never believed (an early time would undo the penalty).
    (root / "alice" / "submission_metadata.json").write_text(json.dumps({"submitted_at": "2000-01-01T00:00:00Z"}))
    (reference_into(root / "syntax") / "assignment" / "named_dims.py").write_text("def linear(:\n")
    (reference_into(root / "nomodule") / "assignment" / "named_dims.py").unlink()
    (root / "empty").mkdir()
    (root / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip archive")
    (root / FORMULA).mkdir()
    (root / MARKUP).mkdir()
    (root.parent / "course.toml").write_text('[late]\ndeadline = "2025-10-14T23:59:00+00:00"\npenalty_per_day = 10\nmax_days = 3\n')
    return root


@pytest.fixture(scope="module")
def runs(klass) -> dict[str, subprocess.CompletedProcess]:
    out = klass.parent / "out"
    common = [str(klass), "--out", str(out), "--config", str(klass.parent / "course.toml"), *SCOPE]
    refused = cli("grade", *common, GRADER_TEST_BREAK_ZYGOTE="1")  # the canary finds it first
    broken = cli("grade", *common, "--skip-canary", GRADER_TEST_BREAK_ZYGOTE="1")
    book = _rows(out / "gradebook.sqlite")
    retried = cli("grade", *common, "--skip-canary")  # the canary was `refused`'s test
    report = cli("report", str(klass.parent / "report"), "--gradebook", str(out / "gradebook.sqlite"))
    return {"refused": refused, "broken": broken, "broken_book": book, "retried": retried, "report": report, "out": out, "report_dir": klass.parent / "report"}


def _rows(gradebook: Path) -> dict[str, dict]:
    with sqlite3.connect(gradebook) as db:
        db.row_factory = sqlite3.Row
        return {r["student"]: dict(r) for r in db.execute("SELECT student, status, error, score, days_late FROM submissions")}


@needs_sandbox
def test_a_sandbox_that_fails_is_a_grader_error_never_a_grade_and_exits_non_zero(runs):
    broken, book = runs["broken"], runs["broken_book"]
    assert broken.returncode == 1, broken.stdout + broken.stderr
    for student in GRADED:
        assert book[student]["status"] == "grader error" and "zygote" in book[student]["error"], student
    assert "3 grader error(s)" in broken.stdout and "not recorded as grades" in " ".join(broken.stdout.split())
    assert book["empty"]["status"] == book["corrupt"]["status"] == "unreadable"  # unreadable needs no sandbox


@needs_sandbox
def test_the_canary_stops_a_batch_whose_sandbox_cannot_run_before_anyone_is_graded(runs):
    refused = runs["refused"]
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "The sandbox cannot grade on this machine" in refused.stdout and "canary" in refused.stdout
    assert "Scores" not in refused.stdout  # no table of zeros


@needs_sandbox
def test_the_next_run_retries_the_grader_errors_only(runs):
    retried = runs["retried"]
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "3 to grade, 4 already graded" in " ".join(retried.stdout.split())
    book = _rows(runs["out"] / "gradebook.sqlite")
    assert {s: r["status"] for s, r in book.items()} == {
        "alice": "graded", "nomodule": "graded", "syntax": "graded",
        "empty": "unreadable", "corrupt": "unreadable", FORMULA: "unreadable", MARKUP: "unreadable",
    }
    assert book["alice"]["score"] == POINTS and book["syntax"]["score"] == book["nomodule"]["score"] == 0


@needs_sandbox
def test_unreadable_submissions_say_why(runs):
    book = _rows(runs["out"] / "gradebook.sqlite")
    assert book["corrupt"]["error"] == "corrupt.zip is not a readable .zip"
    assert book["empty"]["error"] == "the submission is empty: an empty folder"
    text = " ".join(runs["retried"].stdout.split())
    assert "corrupt: unreadable (0 points): corrupt.zip is not a readable .zip" in text  # its line under the table
    assert "corrupt: unreadable: corrupt.zip is not a readable .zip" in " ".join(runs["broken"].stdout.split())  # its progress line


@needs_sandbox
def test_gradebook_csv_and_table_agree_on_each_outcome(runs):
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((runs["report_dir"] / "grades.csv").read_text()))}
    book = _rows(runs["out"] / "gradebook.sqlite")
    assert {s.removeprefix("'"): r["status"] for s, r in rows.items()} == {printable(s): r["status"] for s, r in book.items()}
    report = (runs["report_dir"] / "report.md").read_text()
    table = runs["retried"].stdout.split("Scores", 1)[1]
    assert any(line.split()[:2] == ["alice", f"{POINTS:g}"] for line in table.splitlines()), table
    for student in ("corrupt", "empty"):
        assert f"{student}: unreadable (0 points)" in table and f"| {student} | unreadable |" in report
        assert book[student]["status"] == rows[student]["status"] == "unreadable"


@needs_sandbox
def test_a_submission_time_inside_the_students_folder_is_not_believed(runs):
    """alice's own submission_metadata.json says 2000; her folder was made after the 2025 deadline:
    neither is staff's word, so her time is unknown and nothing is taken off."""
    with sqlite3.connect(runs["out"] / "gradebook.sqlite") as db:
        row = db.execute("SELECT submitted_at, time_source, days_late, late_penalty_pct FROM submissions WHERE student='alice'").fetchone()
    assert row == (None, "unknown", 0, 0.0)
    assert "alice" in runs["retried"].stdout.split("time unknown:", 1)[1]


@needs_sandbox
def test_a_module_that_cannot_be_imported_fails_its_tests_at_once_in_the_students_words(runs):
    data = json.loads((runs["out"] / "syntax" / "results.json").read_text())
    assert len(data["tests"]) > 10
    for test in data["tests"]:
        assert test["extra_data"]["seconds"] < 0.5, (test["name"], test["extra_data"]["seconds"])
        assert "assignment/named_dims.py failed to import: SyntaxError: invalid syntax (line 1)" in test["output"]
        assert "plugin.py" not in test["output"]  # no grader traceback on a student's page
    missing = (runs["report_dir"] / "feedback" / "nomodule.md").read_text()
    assert "assignment/named\\_dims.py is missing" in missing and "FileNotFoundError" not in missing  # markdown escapes "_"
    for student, reason in (("nomodule", "assignment/named\\_dims.py is missing"), ("syntax", "assignment/named\\_dims.py failed to import")):
        page = (runs["report_dir"] / "feedback" / f"{student}.md").read_text()
        assert page.count(reason) == 1 and "Every test of this problem failed for one reason: " + reason in page, page[:2000]


@needs_sandbox
def test_the_console_fits_80_columns_and_names_stay_text(runs):
    out = runs["retried"].stdout
    assert max(len(line) for line in out.splitlines()) <= 80, max(out.splitlines(), key=len)
    assert "\x1b" not in out and "[red]bob\\x1b[2J" in out  # shown literally: no style, no escape sequence
    assert "[1/3] " in out and "[3/3] " in out  # a plain line per finished submission when not a terminal
    assert f"P{list(rubric.load().titles).index(PROBLEM) + 1} {PROBLEM} /{POINTS:g}" in out


@needs_sandbox
def test_staff_outputs_neutralise_student_controlled_names(runs):
    text = (runs["report_dir"] / "grades.csv").read_text()
    assert "'" + FORMULA.replace('"', '""') in text and "\n" + FORMULA not in text
    report = (runs["report_dir"] / "report.md").read_text()
    assert "\x1b" not in report and "\\[red\\]bob" in report


@needs_sandbox
def test_feedback_pages_hold_no_staff_machine_paths_or_sandbox_layers(runs):
    for page in (runs["report_dir"] / "feedback").glob("*"):
        text = page.read_text()
        for internal in ("site-packages", str(REPO_ROOT), "netns", "mountns", "/submission/"):
            assert internal not in text, (page.name, internal)


def test_an_empty_class_folder_is_no_submissions_found(tmp_path):
    (tmp_path / "class").mkdir()
    finished = cli("grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"))
    assert finished.returncode == 2 and "no submissions found" in finished.stdout
    assert not (tmp_path / "out").exists()


def test_a_students_exception_text_is_plain_text_in_report_md(tmp_path):
    """report.md's "most common failure" quotes the kind of failure, which holds the student's own
    exception message: its HTML and backtick fences stay characters, never markup."""
    hostile = "your code raised ValueError: <img src=x onerror=alert(1)> ```\n# heading"
    test = {
        "name": "Problem 1: dtypes and tensor memory: test_x", "score": 0.0, "max_score": 1.0, "status": "failed",
        "visibility": "visible", "tags": ["tensors"], "output": f"Hint: be right.\n{hostile}", "extra_data": {"key": "public/x::test_x"},
    }
    data = {"score": 0.0, "max_score": 1.0, "output": "", "tests": [test], "extra_data": {"integrity_flags": []}}
    (tmp_path / "results" / "mallory").mkdir(parents=True)
    (tmp_path / "results" / "mallory" / "results.json").write_text(json.dumps(data))
    finished = cli("report", str(tmp_path / "report"), "--results", str(tmp_path / "results"))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in text
    assert "<img src=x" not in text and "```" not in text and "\n# heading" not in text


SCRIPT = shutil.which("script")  # util-linux: runs a command on a pseudo-terminal


@needs_sandbox
@pytest.mark.skipif(SCRIPT is None, reason="util-linux's script is not installed")
def test_on_a_terminal_the_bar_counts_tests_as_they_finish_and_names_who_is_in_progress(tmp_path):
    """Two students one after the other: the bar counts the whole batch's tests (both students'),
    and moves while alice is graded (on tensors: named_dims grades too fast for the bar to move)."""
    two = tmp_path / "class"
    reference_into(two / "alice")
    (reference_into(two / "syntax") / "assignment" / "tensors.py").write_text("def dtype_bytes(:\n")
    scope = ["tensors" if arg == PROBLEM else arg for arg in SCOPE]
    command = " ".join([sys.executable, "-m", "grader", "grade", str(two), "--out", str(tmp_path / "out"), *scope, "--jobs", "1", "--skip-canary"])
    screen = subprocess.run([SCRIPT, "-qec", command, "/dev/null"], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "80"}, timeout=600)
    assert screen.returncode == 0, screen.stdout[-3000:]
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.stdout)
    seen = [(int(a), int(b), int(c), int(d)) for a, b, c, d in re.findall(r"tests (\d+)/(\d+); now alice (\d+)/(\d+)", text)]
    assert len({done for done, *_ in seen}) >= 2, seen  # it moved while alice was graded
    assert all(batch == 2 * each and done == mine for done, batch, mine, each in seen), seen  # out of both students' tests


def test_student_tracebacks_lose_the_graders_frames_and_paths():
    from grader.core.student_text import scrub, without_grader_frames

    traceback = (
        "tests/public/test_x.py:12: in test_y\n    got = impl.strides.view(a)\n"
        'grader/core/sandbox.py:310: in request\n    raise as_exception(reply.get("error"), self, test)\n'
        "E   ValueError: bad\nE   --- where your code raised it ---\n"
        'E     File "grader/worker/serve.py", line 51, in _handle\n'
        'E     File "/submission/assignment/strides.py", line 15, in view\nE       raise ValueError("bad")\n'
        '  File "/usr/lib/python3.11/site-packages/hypothesis/core.py", line 9, in run\n'
    )
    traceback += (
        "/usr/local/lib/python3.11/site-packages/hypothesis/core.py:1730: in _raise_to_user\n    raise the_error_hypothesis_found\n"
        "/usr/local/lib/python3.11/site-packages/_pytest/python.py:159: in pytest_pyfunc_call\n    result = testfunction(**testargs)\n"
        "tests/public/test_x.py:14: in test_y\n    assert got == want\n"
    )
    text = scrub(without_grader_frames(traceback))
    assert "grader/" not in text and "as_exception" not in text and "/usr/lib" not in text
    for plumbing in ("hypothesis/", "_raise_to_user", "the_error_hypothesis_found", "_pytest/", "testfunction"):
        assert plumbing not in text, plumbing  # issue 20: no frames of pytest or hypothesis in a student's traceback
    for kept in ("tests/public/test_x.py:12", "got = impl.strides.view(a)", "E   ValueError: bad",
                 'File "assignment/strides.py", line 15', 'raise ValueError("bad")', "tests/public/test_x.py:14", "assert got == want"):
        assert kept in text, kept


def test_student_tracebacks_name_a_fault_without_the_graders_module():
    """pytest names a fault class by its module (grader/core/faults.py): students see its bare name."""
    from grader.core.faults import SubmissionError
    from grader.core.student_text import without_grader_frames

    line = f"E   {SubmissionError.__module__}.SubmissionError: your code raised SystemExit: 3"
    assert without_grader_frames(line) == "E   SubmissionError: your code raised SystemExit: 3"
