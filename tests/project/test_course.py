"""Running a course as a TA does (issue 20): times, outcomes, extensions, late-aware outputs, staff commands.

One class, graded once through `python -m grader grade --only named_dims` (the cheapest problem to grade) with a late policy, a staff
file of times and an extension, then read back with `report`, `show`, `override` and `export`:

    ontime      the reference, an LMS export's time beside it (on time)
    late_lucy   the reference, 26 hours late by the staff file: 2 started days, 20%
    ext_ed      the reference, 26 hours late by the LMS export, with an extension of 2 days: on time
    NO_TIME     the reference under a long name, no staff time, its folder modified after the deadline
    crashy      exits in the middle of a call (os_exit_in_call): a fault of the code, not integrity
    cheat       patches torch.allclose (patch_torch_allclose): an integrity flag, not a fault
    empty       an empty folder: unreadable
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.core import rubric
from grader.core.machine import isolation_level
from grader.core.variants import reference_into
from grader.core import variants
from grader.staff.grading.gradebook import Gradebook, Late
from seam import MODULES, REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("course"), pytest.mark.timeout(900)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

PROBLEM = QUICKEST
SCOPE = ["--only", PROBLEM, "--skip-canary", "--jobs", "2", "--call-timeout", "8", "--test-timeout", "30"]
POINTS = round(rubric.load().only([PROBLEM]).total, 4)  # the points of the one problem graded
# A fault of the code in the problem graded and nothing else (os_exit_in_call in tests/data/hostile.toml does it to tensors).
CRASHY = variants.Variant(name="causal_mask_exits", module=PROBLEM, base="correct", description="causal_mask() calls os._exit(0)",
                          append="\n\ndef causal_mask(seq_len):\n    import os\n    os._exit(0)\n")
DEADLINE = datetime(2025, 10, 14, 23, 59, tzinfo=timezone.utc)
NO_TIME = "no_time_given_by_any_staff_source_" * 2
CONFIG = f"""[late]
deadline = "{DEADLINE.isoformat()}"
penalty_per_day = 10
max_days = 3

[submissions]
times = "times.csv"

[extensions]
ext_ed = 2
ghost = 1
"""


def cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True, env=environment, timeout=800)


def plain(text: str) -> str:
    return " ".join(text.split())



def lms_time(folder: Path, moment: datetime) -> None:
    (folder.parent / f"{folder.name}.submission_metadata.json").write_text(json.dumps({"submitted_at": moment.isoformat()}))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    klass = root / "class"
    lms_time(reference_into(klass / "ontime"), DEADLINE - timedelta(hours=1))
    reference_into(klass / "late_lucy")
    lms_time(reference_into(klass / "ext_ed"), DEADLINE + timedelta(hours=26))
    modified = (DEADLINE + timedelta(days=4, hours=12)).timestamp()  # unzipped after the deadline: never believed unless asked
    os.utime(reference_into(klass / NO_TIME), (modified, modified))
    by_name = {v.name: v for v in [*variants.load_hostile(), *variants.load_mutants()]}
    CRASHY.build(klass / "crashy")
    by_name["patch_pytest_approx_and_raises"].build(klass / "cheat")  # named_dims patches a comparison
    (klass / "empty").mkdir()
    (root / "times.csv").write_text(f"student,submitted_at\nlate_lucy,{(DEADLINE + timedelta(hours=26)).isoformat()}\n")
    (root / "course.toml").write_text(CONFIG)
    return root


@pytest.fixture(scope="module")
def graded(course) -> dict:
    out = course / "out"
    book = out / "gradebook.sqlite"
    runs = {"grade": cli("grade", str(course / "class"), "--out", str(out), "--config", str(course / "course.toml"), *SCOPE)}
    runs["report"] = cli("report", str(course / "report"), "--gradebook", str(book), "--config", str(course / "course.toml"))
    runs["show"] = cli("show", "--gradebook", str(book))
    return {**runs, "book": book, "report_dir": course / "report"}


def submissions(book: Path) -> dict[str, dict]:
    with sqlite3.connect(book) as db:
        db.row_factory = sqlite3.Row
        return {r["student"]: dict(r) for r in db.execute("SELECT * FROM submissions")}


def grades_csv(graded: dict) -> dict[str, dict]:
    return {r["student"]: r for r in csv.DictReader(io.StringIO((graded["report_dir"] / "grades.csv").read_text()))}


@needs_sandbox
def test_the_class_grades_and_every_command_says_what_comes_next(graded):
    for command in ("grade", "report", "show"):
        assert graded[command].returncode == 0, (command, graded[command].stdout[-3000:] + graded[command].stderr[-3000:])
    assert "next: python -m grader report report/ --gradebook" in plain(graded["grade"].stdout)
    assert "next: python -m grader export" in plain(graded["report"].stdout)
    assert "next: python -m grader show STUDENT" in plain(graded["show"].stdout)


@needs_sandbox
def test_every_time_says_where_it_came_from_and_no_modification_time_is_believed(graded):
    rows = submissions(graded["book"])
    assert {s: rows[s]["time_source"] for s in ("ontime", "late_lucy", "ext_ed", NO_TIME)} == {
        "ontime": "LMS export", "late_lucy": "staff file", "ext_ed": "LMS export", NO_TIME: "unknown"}
    assert (rows[NO_TIME]["submitted_at"], rows[NO_TIME]["days_late"], rows[NO_TIME]["late_penalty_pct"]) == (None, 0, 0.0)
    grade = plain(graded["grade"].stdout)
    times = grade.split("Submission times: ", 1)[1].split(")", 1)[0]
    assert {"2 LMS export", "1 staff file", "4 unknown"} <= set(times.split(" (")[0].split(", ")), times
    assert "(time unknown: no late penalty taken until staff give the time" in grade
    assert re.search(r"time unknown: no late penalty taken.*: no_time_given", grade), grade[-2000:]
    row = grades_csv(graded)[NO_TIME]
    assert (row["days_late"], row["late_penalty_pct"], row["time_source"]) == ("", "0", "unknown")
    assert "Time unknown (no late penalty taken" in (graded["report_dir"] / "report.md").read_text()


@needs_sandbox
def test_modification_times_count_only_where_the_course_opts_in(graded, course, tmp_path):
    """The same class and gradebook with `[submissions] modification_times = true`: re-timed without regrading."""
    shutil.copy(graded["book"], tmp_path / "gradebook.sqlite")
    (course / "opt-in.toml").write_text(CONFIG.replace('times = "times.csv"', 'times = "times.csv"\nmodification_times = true'))
    again = cli("grade", str(course / "class"), "--out", str(tmp_path), "--config", str(course / "opt-in.toml"), *SCOPE)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "0 to grade, 7 already graded" in plain(again.stdout)
    row = submissions(tmp_path / "gradebook.sqlite")[NO_TIME]
    assert (row["time_source"], row["days_late"], row["late_penalty_pct"]) == ("modification time", 5, 100.0)


@needs_sandbox
def test_an_extension_moves_one_students_deadline_and_shows_everywhere(graded):
    row = submissions(graded["book"])["ext_ed"]
    assert (row["days_late"], row["late_penalty_pct"], row["extension"]) == (0, 0.0, "2 extra day(s)")
    assert row["deadline"] == (DEADLINE + timedelta(days=2)).isoformat()
    grade = plain(graded["grade"].stdout)
    assert "ext_ed: extension: 2 extra day(s)" in grade
    assert "course.toml [extensions]: no submission for 'ghost'" in grade  # a misspelt name is said, not ignored
    assert grades_csv(graded)["ext_ed"]["extension"] == "2 extra day(s)"
    assert "ext\\_ed 2 extra day\\(s\\)" in (graded["report_dir"] / "report.md").read_text()
    assert "Your deadline was extended" in (graded["report_dir"] / "feedback" / "ext_ed.md").read_text()


@needs_sandbox
def test_outcomes_mean_one_thing_each_in_every_output(graded):
    """A crash is a fault of the code, a patched comparison an integrity flag, an empty folder unreadable:
    the gradebook, grades.csv, the class report and the console say the same words."""
    rows, table = submissions(graded["book"]), grades_csv(graded)
    assert {s: rows[s]["status"] for s in ("crashy", "cheat", "empty", "ontime")} == {
        "crashy": "graded", "cheat": "graded", "empty": "unreadable", "ontime": "graded"}
    assert {s: table[s]["status"] for s in ("crashy", "cheat", "empty")} == {"crashy": "graded", "cheat": "graded", "empty": "unreadable"}
    assert "crash" in json.loads(rows["crashy"]["faults"]) and json.loads(rows["crashy"]["integrity_flags"]) == []
    assert [f["kind"] for f in json.loads(rows["cheat"]["integrity_flags"])] and json.loads(rows["cheat"]["faults"]) == {}
    assert table["crashy"]["faults"].startswith("crash (") and table["crashy"]["integrity_flags"] == ""
    assert "patched" in table["cheat"]["integrity_flags"] and table["cheat"]["faults"] == ""
    report = (graded["report_dir"] / "report.md").read_text()
    faults = report.split("## Faults of the code", 1)[1].split("\n## ", 1)[0]
    integrity = report.split("## Integrity flags", 1)[1].split("\n## ", 1)[0]
    assert "| crashy | crash \\(" in faults and "cheat" not in faults
    assert "| cheat | patched |" in integrity and "crashy" not in integrity
    grade = plain(graded["grade"].stdout)
    assert "crashy: faults of the code: crash (" in grade and "cheat: integrity flags: patched" in grade
    assert "empty: unreadable (0 points): the submission is empty: an empty folder" in grade


@needs_sandbox
def test_a_late_students_outputs_spell_out_the_penalty(graded):
    page = (graded["report_dir"] / "feedback" / "late_lucy.md").read_text()
    assert page.count("Score") == 1 and f"**Score: {0.8 * POINTS:g} / {POINTS:g}**" in page, page[:800]
    assert f"came in 2 day(s) after your deadline, {DEADLINE.isoformat()}" in page
    assert f"{POINTS:g} × (1 − 0.2) = {0.8 * POINTS:g}" in page
    row = grades_csv(graded)["late_lucy"]
    assert (row["score"], row["days_late"], row["late_penalty_pct"], row["final"]) == (f"{POINTS:g}", "2", "20", f"{0.8 * POINTS:g}")
    roster = (graded["report_dir"] / "report.md").read_text().split("## All students", 1)[1]
    assert "| score | days late | penalty | final | outcome |" in roster
    assert f"| {POINTS:g} | 2 | 20% | {0.8 * POINTS:g} | graded |" in roster
    html = (graded["report_dir"] / "report.html").read_text()
    assert "<th class=\"num\">days late</th><th class=\"num\">penalty</th>" in html


@needs_sandbox
def test_the_console_table_fits_80_columns_with_a_late_policy_and_long_names(graded):
    grade = graded["grade"].stdout
    assert max(map(len, grade.splitlines())) <= 80, max(grade.splitlines(), key=len)
    header = next(line for line in grade.splitlines() if line.startswith("student"))
    assert header.split() == ["student", f"P{list(rubric.load().titles).index(PROBLEM) + 1}", "score", "late", "final"]
    lucy = next(line for line in grade.splitlines() if line.startswith("late_lucy"))
    assert lucy.split() == ["late_lucy", f"{POINTS:g}", f"{POINTS:g}", "-20%", f"{0.8 * POINTS:g}"]
    cut = next(line for line in grade.splitlines() if line.startswith("no_time_given"))
    assert cut.split()[1:] == [f"{POINTS:g}", f"{POINTS:g}", "?", f"{POINTS:g}"]  # its name cut to fit, every column there


def test_every_column_fits_80_with_all_eight_problems_late_policy_and_long_names(tmp_path):
    """A gradebook holding all eight problems (no grading needed), shown at 80 and at 60 columns."""
    book = Gradebook(tmp_path / "gradebook.sqlite")
    deadline = DEADLINE.isoformat()
    for number, (name, late) in enumerate([
        ("a_student_whose_folder_name_runs_on_and_on_" * 3, Late("2025-10-16T00:00:00+00:00", 2, 20.0, "LMS export", deadline)),
        ("a_student_whose_folder_name_runs_on_and_on_" * 3 + "2", Late(None, 0, 0.0, "unknown", deadline)),
        ("bob", Late("2025-10-26T00:00:00+00:00", 12, 100.0, "staff file", deadline)),
    ]):
        tests = [{"name": f"P: t{i}", "score": 10.25 - number, "max_score": 12.5, "status": "failed", "output": "", "tags": [m],
                  "visibility": "visible", "extra_data": {"key": f"public/test_{m}.py::t"}} for i, m in enumerate(MODULES)]
        book.record(name, "sha", "", {"score": 8 * (10.25 - number), "max_score": 100, "tests": tests, "extra_data": {}}, late, 1.0)
    book.close()
    wide = cli("show", "--gradebook", str(tmp_path / "gradebook.sqlite"), columns=80)
    assert wide.returncode == 0 and max(map(len, wide.stdout.splitlines())) <= 80, wide.stdout
    header = next(line for line in wide.stdout.splitlines() if line.startswith("student"))
    assert header.split() == ["student", *(f"P{i}" for i in range(1, 9)), "score", "late", "final"]
    rows = [line for line in wide.stdout.splitlines() if line.startswith(("a_student", "bob"))][:3]
    assert [line.split()[1:] for line in rows] == [
        ["10.25"] * 8 + ["82", "-20%", "65.6"], ["9.25"] * 8 + ["74", "?", "74"], ["8.25"] * 8 + ["66", "-100%", "0"]]
    assert len({line.split()[0] for line in rows}) == 3  # two long names cut alike still differ
    narrow = cli("show", "--gradebook", str(tmp_path / "gradebook.sqlite"), columns=60)
    assert max(map(len, narrow.stdout.splitlines())) <= 60, narrow.stdout
    assert next(line for line in narrow.stdout.splitlines() if line.startswith("student")).split() == ["student", "score", "late", "final"]


@needs_sandbox
def test_a_ta_finds_a_test_key_and_overrides_it_without_sql(graded, tmp_path):
    book_path = tmp_path / "gradebook.sqlite"
    shutil.copy(graded["book"], book_path)
    listed = cli("show", "crashy", "--failed", "--gradebook", str(book_path))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    key = next(line.split()[-1] for line in listed.stdout.splitlines() if "::" in line and " failed " in line)
    points = next(line.split()[0] for line in listed.stdout.splitlines() if line.endswith(key)).split("/")[1]
    assert "next: python -m grader override 'crashy' KEY POINTS" in plain(listed.stdout)
    override = cli("override", "crashy", key, points, "--reason", "crash was the grader's", "--by", "ta", "--gradebook", str(book_path))
    assert override.returncode == 0, override.stdout + override.stderr
    assert "next: python -m grader report" in plain(override.stdout)
    again = cli("show", "crashy", "--gradebook", str(book_path))
    assert f"{points}/{points}* passed" in again.stdout or f"{points}/{points}* failed" in again.stdout, again.stdout


@needs_sandbox
def test_the_lms_export_is_one_row_per_student_and_the_same_every_time(graded, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    made = cli("export", str(first), "--gradebook", str(graded["book"]), "--assignment", "HW2 (1234)")
    assert made.returncode == 0, made.stdout + made.stderr
    assert cli("export", str(second), "--gradebook", str(graded["book"]), "--assignment", "HW2 (1234)").returncode == 0
    assert first.read_bytes() == second.read_bytes()  # safe to import again: nothing moves
    rows = list(csv.reader(io.StringIO(first.read_text())))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW2 (1234)", "Notes"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == f"{POINTS:g}"
    by_student = {row[0]: row for row in rows[2:]}
    assert len(by_student) == 7 and by_student["late_lucy"][5] == f"{0.8 * POINTS:g}" and "2 day(s) late: -20%" in by_student["late_lucy"][6]
    assert by_student["empty"][5] == "0" and by_student["empty"][6].startswith("unreadable: the submission is empty")
    assert "submission time unknown" in by_student[NO_TIME][6] and "extension: 2 extra day(s)" in by_student["ext_ed"][6]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    roster = tmp_path / "canvas.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n"
                      "\"Lee, Lucy\",101,s101,late_lucy,A\n\"Ed, Ext\",102,s102,ext_ed,B\n")
    mapped = cli("export", str(tmp_path / "c.csv"), "--gradebook", str(graded["book"]), "--roster", str(roster))
    assert mapped.returncode == 1 and "not in the roster, so not in the file: cheat, crashy, empty" in plain(mapped.stdout)
    rows = list(csv.reader(io.StringIO((tmp_path / "c.csv").read_text())))
    assert [row[:5] for row in rows[2:]] == [["Ed, Ext", "102", "s102", "ext_ed", "B"], ["Lee, Lucy", "101", "s101", "late_lucy", "A"]]


def test_hidden_hints_after_the_deadline_wait_for_a_students_extended_one():
    """`[hints] hidden_after_deadline`: a student with an extension may still be working at the class's
    deadline, so hidden tests' hints reach their page only after their own."""
    from grader.commands.report import _own_deadline
    from grader.staff.course.hint_policy import HintPolicy

    policy, hidden, now = HintPolicy("public", True, DEADLINE), {"visibility": "hidden"}, DEADLINE + timedelta(days=1)
    assert policy.shows(hidden, now) and _own_deadline(policy, DEADLINE.isoformat()).shows(hidden, now)
    assert not _own_deadline(policy, (DEADLINE + timedelta(days=2)).isoformat()).shows(hidden, now)
