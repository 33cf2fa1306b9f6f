"""Batch grading into the gradebook, end to end through `python -m grader grade`.

A class of 12 real submissions (copies of the reference, one .zip, mutants of named_dims and
flops, a late one, a broken upload) is graded once with `--only named_dims` (the cheapest problem
to grade: with that scope the flops mutants score full, which is also checked). On that gradebook: every
student graded once, mutants lose points, the late policy applied, a rerun grades nothing,
a staff override survives an applied regrade, and a batch killed with SIGKILL halfway and resumed
ends with the same rows as the uninterrupted run while grading only what was missing.
"""

import csv
import io
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.core import variants
from grader.staff.grading import batch
from grader.cli import main as grader_cli
from grader.staff.grading.gradebook import Gradebook, Late
from grader.staff.course.late import LatePolicy
from grader.core.machine import isolation_level
from grader.core.variants import reference_into
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("batch"), pytest.mark.timeout(900)]  # generous: a loaded machine is slow; idle CI needs far less
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

PROBLEM = QUICKEST  # the problem graded
SCOPE = ["--only", PROBLEM, "--skip-canary", "--call-timeout", "8", "--test-timeout", "30", "--submission-timeout", "300", "--jobs", "2"]  # the canary has its own tests (test_walls, test_cli_outcomes)
MUTANTS = [m for m in variants.load_mutants() if not m.cuda_only and m.extra.get("ci", True)]
REFERENCE_COPIES = 2  # plus 3 + 3 mutants, one .zip, one late, one in the grace period and one broken upload: 12 in all
# Fixed numbers, not "every mutant of the problem": the hint library's growth took this class from 24
# submissions to 58 (378 s of CI's 1183). Each kind of student is here at least twice, and the
# suites' strength is test_suites.py's to check; more copies of a kind only cost time.
OWN_MUTANTS = [m for m in MUTANTS if m.module == PROBLEM][:3]
FLOPS_MUTANTS = [m for m in MUTANTS if m.module == "flops"][:3]  # graded on PROBLEM only: full marks
DEADLINE = datetime(2025, 10, 14, 23, 59, tzinfo=timezone.utc)
CONFIG = f'[late]\ndeadline = "{DEADLINE.isoformat()}"\ngrace_minutes = 15\npenalty_per_day = 10\nmax_days = 3\n'
ROW_FIELDS = "test_key, module, points, max_points, status, output"


def grade_cli(*args: str, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "grade", *args], cwd=REPO_ROOT, capture_output=True, text=True, **popen)



def metadata(folder: Path, key: str, moment: datetime) -> None:
    """The LMS export's time, where staff put it: beside the student's folder, not inside it."""
    (folder.parent / f"{folder.name}.submission_metadata.json").write_text(json.dumps({key: moment.isoformat()}))


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """12 submissions, one per student, as a staff export looks: a folder of folders and .zips."""
    root = tmp_path_factory.mktemp("batch") / "class"
    for i in range(REFERENCE_COPIES):
        reference_into(root / f"ref_{i:02d}")
    for mutant in OWN_MUTANTS + FLOPS_MUTANTS:
        mutant.build(root / mutant.name)
    zipped = reference_into(tmp_path_factory.mktemp("zipme") / "hw")
    shutil.make_archive(str(root / "ref_zip"), "zip", zipped)
    metadata(reference_into(root / "late_lucy"), "submitted_at", DEADLINE + timedelta(days=1, hours=2))  # 2 started days
    metadata(reference_into(root / "grace_gus"), "created_at", DEADLINE + timedelta(minutes=10))  # Gradescope's key
    (root / "empty_eve").mkdir()
    (root / "empty_eve" / "notes.txt").write_text("forgot to upload")
    (root.parent / "course.toml").write_text(CONFIG)
    return root


@pytest.fixture(scope="module")
def graded(klass) -> Path:
    out = klass.parent / "out"
    finished = grade_cli(str(klass), "--out", str(out), "--config", str(klass.parent / "course.toml"), *SCOPE)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return out / "gradebook.sqlite"


def rows(gradebook: Path, student: str) -> list[tuple]:
    with sqlite3.connect(gradebook) as db:
        return db.execute(f"SELECT {ROW_FIELDS} FROM tests WHERE student=? ORDER BY test_key", (student,)).fetchall()


def graded_at(gradebook: Path) -> dict[str, float]:
    try:
        with sqlite3.connect(gradebook) as db:
            return dict(db.execute("SELECT student, graded_at FROM submissions WHERE status IN ('graded', 'unreadable')"))
    except sqlite3.OperationalError:  # the driver is still creating its tables
        return {}


@needs_sandbox
def test_a_class_is_graded_into_the_gradebook_one_row_per_student_and_test(klass, graded):
    book = Gradebook(graded)
    students = book.students()
    submissions = [p for p in klass.iterdir() if not p.name.endswith(".submission_metadata.json")]  # the LMS export's files beside them
    assert len(students) == len(submissions) == REFERENCE_COPIES + len(OWN_MUTANTS) + len(FLOPS_MUTANTS) + 4
    reference = book.submission("ref_00")
    assert reference["score"] == reference["max_score"] > 0 and reference["scope"] == PROBLEM
    for student in students:
        row = book.submission(student)
        assert row["status"] == ("unreadable" if student == "empty_eve" else "graded"), (student, row["error"])
        assert {t["module"] for t in book.tests(student)} == {PROBLEM}
        on_disk = json.loads((graded.parent / student / "results.json").read_text())
        assert on_disk["score"] == row["score"] and row["grader_version"]
        assert row["suite_version"] == on_disk["extra_data"]["suite_version"] == reference["suite_version"], (
            "the suites changed during the batch (another edit of tests/ or solutions/ while it ran?)"
        )
    for mutant in OWN_MUTANTS:
        assert book.submission(mutant.name)["score"] < reference["max_score"], f"{mutant.name} lost nothing"
    for student in [m.name for m in FLOPS_MUTANTS] + ["ref_zip", f"ref_{REFERENCE_COPIES - 1:02d}"]:
        assert book.submission(student)["score"] == reference["max_score"], student
    assert book.submission("ref_zip")["submission_sha256"] == reference["submission_sha256"]
    assert book.submission("empty_eve")["score"] == 0 and "no assignment/ folder" in book.submission("empty_eve")["error"]
    assert "could not be read" in book.results("empty_eve")["output"]


@needs_sandbox
def test_the_late_policy_takes_its_penalty_from_the_submission_time(graded):
    finals = Gradebook(graded).final_scores()
    lucy, gus = finals["late_lucy"], finals["grace_gus"]
    assert lucy["late_penalty_pct"] == 20 and lucy["final"] == pytest.approx(0.8 * lucy["score"])
    assert gus["late_penalty_pct"] == 0 and gus["final"] == gus["score"] > 0
    assert Gradebook(graded).submission("late_lucy")["days_late"] == 2


@needs_sandbox
def test_a_second_run_grades_nobody_again(klass, graded):
    before = graded_at(graded)
    finished = grade_cli(str(klass), "--out", str(graded.parent), "--config", str(klass.parent / "course.toml"), *SCOPE)
    assert finished.returncode == 0, finished.stderr
    assert f"0 to grade, {len(before)} already graded" in " ".join(finished.stdout.split())
    assert graded_at(graded) == before


@needs_sandbox
def test_a_regrade_keeps_the_staff_override(klass, graded, tmp_path):
    book_path = tmp_path / "gradebook.sqlite"
    shutil.copy(graded, book_path)
    student = OWN_MUTANTS[0].name
    failed = next(t for t in Gradebook(book_path).tests(student) if t["status"] == "failed")
    override = subprocess.run(
        [sys.executable, "-m", "grader", "override", student, failed["test_key"], str(failed["max_points"]),
         "--reason", "regrade request: spec was ambiguous", "--by", "ta_jo", "--gradebook", str(book_path)],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert override.returncode == 0, override.stderr
    raw = Gradebook(book_path).submission(student)["score"]
    before = graded_at(book_path)

    finished = grade_cli(str(klass), "--out", str(tmp_path), "--gradebook", str(book_path), "--regrade", student, *SCOPE)
    assert finished.returncode == 0, finished.stderr
    assert graded_at(book_path) == before  # a regrade waits for review (tests/project/test_regrade.py)
    assert grader_cli(["regrade", "apply", "--gradebook", str(book_path)]) == 0
    after = graded_at(book_path)
    assert after[student] > before[student]
    assert {s: t for s, t in after.items() if s != student} == {s: t for s, t in before.items() if s != student}
    book = Gradebook(book_path)
    assert [tuple(o)[:4] for o in book.overrides(student)] == [(student, failed["test_key"], failed["max_points"], "regrade request: spec was ambiguous")]
    assert book.test(student, failed["test_key"])["status"] == "failed"  # the grade itself is unchanged
    assert book.final_scores()[student]["final"] == pytest.approx(raw + failed["max_points"])


@needs_sandbox
def test_the_report_from_the_gradebook_counts_overrides_and_late_penalties(graded, tmp_path):
    """`report --gradebook`: totals are the gradebook's final scores, an override shows in its
    problem's column and its test's feedback, a late student's penalty is said, and a grader
    failure is an error row whose message stays out of the student's page."""
    book_path = tmp_path / "gradebook.sqlite"
    shutil.copy(graded, book_path)
    book = Gradebook(book_path)
    student = OWN_MUTANTS[0].name
    failed = next(t for t in book.tests(student) if t["status"] == "failed")
    book.set_override(student, failed["test_key"], failed["max_points"], "spec was ambiguous", "ta_jo")
    book.record_error("crashy", "sha", PROBLEM, "Traceback: SECRET-grader-internals", Late(), 1.0)
    finals = book.final_scores()
    book.close()

    out = tmp_path / "report"
    assert grader_cli(["report", str(out), "--gradebook", str(book_path)]) == 0
    by_student = {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert set(by_student) == set(finals)
    for name, final in finals.items():
        if final["status"] == "graded":
            assert float(by_student[name]["final"]) == pytest.approx(final["final"]), name
    overridden = by_student[student]
    assert float(overridden[PROBLEM]) == pytest.approx(finals[student]["score"])
    assert finals[student]["score"] == pytest.approx(Gradebook(graded).submission(student)["score"] + failed["max_points"] - failed["points"])
    lucy = by_student["late_lucy"]
    assert (lucy["days_late"], lucy["late_penalty_pct"], lucy["time_source"]) == ("2", "20", "LMS export")
    assert float(lucy["final"]) == pytest.approx(0.8 * float(lucy[PROBLEM])) and lucy["score"] == lucy[PROBLEM]
    assert by_student["crashy"]["status"] == "grader error" and by_student["crashy"]["final"] == ""
    assert by_student["ref_00"]["time_source"] == "unknown" and by_student["ref_00"]["days_late"] == ""  # no staff time: none taken

    feedback = (out / "feedback" / f"{student}.md").read_text()
    assert "Points set by the course staff" in feedback and "spec was ambiguous" in feedback and "ta_jo" not in feedback
    page = (out / "feedback" / "late_lucy.md").read_text()
    raw, final = float(lucy["score"]), float(lucy["final"])
    assert page.count("Score:") == 1 and f"**Score: {final:g} / " in page  # one score on the page: the one that counts
    assert f"came in 2 day(s) after your deadline" in page and f"{raw:g} × (1 − 0.2) = {final:g}" in page
    for page in (out / "feedback").glob("crashy.*"):
        assert "SECRET-grader-internals" not in page.read_text()


@needs_sandbox
def test_a_batch_killed_halfway_resumes_to_the_same_rows_grading_only_what_was_missing(klass, graded, tmp_path):
    subset = tmp_path / "class"
    names = [m.name for m in OWN_MUTANTS[:2]] + ["ref_00", FLOPS_MUTANTS[0].name]
    for name in names:
        shutil.copytree(klass / name, subset / name)
    book_path = tmp_path / "out" / "gradebook.sqlite"
    args = [sys.executable, "-m", "grader", "grade", str(subset), "--out", str(tmp_path / "out"), *SCOPE]
    driver = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(graded_at(book_path) if book_path.exists() else {}) < 2:
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    recorded = graded_at(book_path)
    assert 2 <= len(recorded) < len(names), "the kill came too late to test a resume"
    assert not _processes_grading(subset), "grading processes outlived the killed driver"

    finished = grade_cli(str(subset), "--out", str(tmp_path / "out"), *SCOPE)
    assert finished.returncode == 0, finished.stderr
    assert f"{len(names) - len(recorded)} to grade, {len(recorded)} already graded" in " ".join(finished.stdout.split())
    final = graded_at(book_path)
    assert {s: final[s] for s in recorded} == recorded  # the students recorded before the kill were not graded again
    assert sorted(final) == sorted(names)
    for name in names:
        assert rows(book_path, name) == rows(graded, name), name


def _processes_grading(folder: Path, wait: float = 10.0) -> list[int]:
    """Pids whose command line names `folder` (the grading subprocesses), after up to `wait` s."""
    stop = time.monotonic() + wait
    while True:
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(folder) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
        if not pids or time.monotonic() > stop:
            return pids
        time.sleep(0.5)


# --- no grading needed ------------------------------------------------------------------
def test_late_policy_counts_started_days_after_the_grace_and_caps_at_max_days():
    policy = LatePolicy(DEADLINE, penalty_per_day=10, max_days=3, grace=timedelta(minutes=15))
    assert policy.assess(DEADLINE + timedelta(minutes=15)).penalty_pct == 0
    late = policy.assess(DEADLINE + timedelta(minutes=16))
    assert (late.submitted_at, late.days_late, late.penalty_pct) == ((DEADLINE + timedelta(minutes=16)).isoformat(), 1, 10)
    assert policy.assess(DEADLINE + timedelta(days=3, minutes=15)).penalty_pct == 30
    assert policy.assess(DEADLINE + timedelta(days=3, minutes=16)).penalty_pct == 100
    assert policy.assess(DEADLINE - timedelta(days=1)).days_late == 0


def test_discover_tells_a_class_folder_from_single_submissions(tmp_path):
    single = reference_into(tmp_path / "solo")
    klass = tmp_path / "klass"
    reference_into(klass / "ann")
    reference_into(klass / "ben" / "hw1")  # a student's folder with one top-level folder inside
    (klass / "cat.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (klass / "dan").mkdir()  # nothing usable: still a student, graded 0
    (klass / "grades.csv").write_text("not a submission")
    assert batch.discover([single]) == {"solo": single}
    assert batch.discover([klass]) == {"ann": klass / "ann", "ben": klass / "ben", "cat": klass / "cat.zip", "dan": klass / "dan"}
    with pytest.raises(ValueError, match="two submissions for solo"):
        batch.discover([single, single])
    (klass / "ann.zip").write_bytes(b"not a zip")  # beside ann/: two students, neither stops the class
    found = batch.discover([klass])
    assert found["ann"] == klass / "ann" and found["ann.zip"] == klass / "ann.zip" and batch.twins(found) == [("ann", "ann.zip")]


def test_a_failed_write_leaves_the_previous_grade_whole(tmp_path):
    book = Gradebook(tmp_path / "gb.sqlite")
    test = {"score": 1.0, "max_score": 1.0, "status": "passed", "output": "", "tags": ["tensors"], "extra_data": {"key": "k1", "seconds": 0.1}}
    good = {"score": 1.0, "max_score": 1.0, "tests": [test], "extra_data": {"suite_version": "s", "grader_version": "g"}}
    book.record("ann", "sha", "", good, Late(), 1.0)
    broken = {**good, "score": 0.0, "tests": [{**test, "score": 0.0}, {"tags": ["tensors"]}]}  # the second test has no key
    with pytest.raises(KeyError):
        book.record("ann", "sha2", "", broken, Late(), 1.0)
    assert book.submission("ann")["submission_sha256"] == "sha" and book.submission("ann")["score"] == 1.0
    assert [t["points"] for t in book.tests("ann")] == [1.0]
    book.record_error("ann", "sha3", "", "the grader crashed", Late(), 1.0)
    assert book.submission("ann")["status"] == "graded"  # a failed regrade does not erase a grade
