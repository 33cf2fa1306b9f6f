"""Regrades as change sets, end to end through the CLI on real submissions (`--only named_dims`, the cheapest problem to grade).

Two students: ann (the reference) and bob (a named_dims mutant, late by one day, with a staff
override). A first grade counts at once. Then bob's grade is made to look as if an older
suite had given it (his failing test recorded as passed, another suite version): the next
`grade` regrades him into the change set instead of over his grade; `regrade show` names
the flipped test and the suite change; `apply` makes it his grade with the override and the
late penalty carried over, the old result in results_history. A forced regrade of both is
then discarded, leaving every grade as it was.
"""

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.core import variants
from grader.staff.grading.gradebook import Gradebook, Late
from grader.core.machine import isolation_level
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("regrade"), pytest.mark.timeout(900)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

SCOPE = ["--only", QUICKEST, "--skip-canary", "--jobs", "2"]  # the canary has its own tests (test_walls, test_cli_outcomes)
MUTANT = next(m for m in variants.load_mutants() if m.name == "named_dims_per_head_split_inner")  # fails more than one test
DEADLINE = datetime(2025, 10, 14, 23, 59, tzinfo=timezone.utc)


def cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def plain(done: subprocess.CompletedProcess) -> str:
    return " ".join(done.stdout.split())


def pretend_an_older_suite_passed(book_path: Path, student: str, key: str) -> None:
    """What an earlier suite version would have left: this test passed, another suite digest."""
    with sqlite3.connect(book_path) as db:
        results = json.loads(db.execute("SELECT results FROM submissions WHERE student=?", (student,)).fetchone()[0])
        test = next(t for t in results["tests"] if t["extra_data"]["key"] == key)
        gained = test["max_score"] - test["score"]
        test.update(status="passed", score=test["max_score"])
        results["score"] += gained
        results["extra_data"]["suite_version"] = "older-suite"
        db.execute("UPDATE submissions SET results=?, score=score+?, suite_version='older-suite' WHERE student=?",
                   (json.dumps(results), gained, student))
        db.execute("UPDATE tests SET status='passed', points=max_points WHERE student=? AND test_key=?", (student, key))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("regrade")
    klass = root / "class"
    variants.reference_into(klass / "ann")
    MUTANT.build(klass / "bob")
    # The LMS export's time, beside the student's folder (never inside it: grader/staff/course/late.py).
    (klass / "bob.submission_metadata.json").write_text(json.dumps({"submitted_at": (DEADLINE + timedelta(hours=5)).isoformat()}))
    config = root / "course.toml"
    config.write_text(f'[late]\ndeadline = "{DEADLINE.isoformat()}"\npenalty_per_day = 10\nmax_days = 3\n')
    out = root / "out"
    first = cli("grade", str(klass), "--out", str(out), "--config", str(config), *SCOPE)
    return klass, config, out, out / "gradebook.sqlite", first


@needs_sandbox
def test_a_first_grade_counts_at_once_with_the_grader_commit(graded):
    klass, config, out, book_path, first = graded
    assert "2 to grade, 0 already graded" in plain(first) and "kept for review: 0 now" in plain(first)
    book = Gradebook(book_path)
    assert book.history("ann") == []  # nothing replaced: ann is never regraded over
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    extra = book.results("bob")["extra_data"]
    assert extra["grader_commit"] == (commit or "unknown") and extra["suite_version"] and extra["grader_version"]
    assert book.submission("bob")["late_penalty_pct"] == 10


@needs_sandbox
def test_a_changed_suite_regrade_waits_for_review_then_applies_with_override_and_late_policy(graded):
    klass, config, out, book_path, _ = graded
    book = Gradebook(book_path)
    failed = next(t for t in book.tests("bob") if t["status"] == "failed")
    other = next(t for t in book.tests("bob") if t["status"] == "failed" and t["test_key"] != failed["test_key"])
    pretend_an_older_suite_passed(book_path, "bob", failed["test_key"])
    cli("override", "bob", other["test_key"], str(other["max_points"]), "--reason", "ambiguous spec", "--by", "ta", "--gradebook", str(book_path))
    before = book.final_scores()["bob"]["final"]
    file_before = (out / "bob" / "results.json").read_text()

    regrade = cli("grade", str(klass), "--out", str(out), "--config", str(config), *SCOPE)
    assert "1 to grade, 1 already graded" in plain(regrade) and "kept for review: 1 now, 0 from before" in plain(regrade)
    assert book.final_scores()["bob"]["final"] == before and (out / "bob" / "results.json").read_text() == file_before
    assert (out / ".pending" / "bob" / "results.json").is_file()
    again = cli("grade", str(klass), "--out", str(out), "--config", str(config), *SCOPE)
    assert "0 to grade, 1 already graded" in plain(again) and "kept for review: 0 now, 1 from before" in plain(again)

    shown = plain(cli("regrade", "show", "--gradebook", str(book_path)))
    assert "1 pending regrade(s): 1 would change a grade" in shown
    assert f"passed -> failed: {failed['test_key']}" in shown and "suite older-suite ->" in shown
    new_raw = book.submission("bob")["score"] - failed["max_points"] + failed["points"] - other["points"] + other["max_points"]
    assert f"final {before:.4g} -> {0.9 * new_raw:.4g}" in shown

    assert "applied 1 pending regrade(s): bob" in plain(cli("regrade", "apply", "--gradebook", str(book_path)))
    assert book.pending() == [] and not (out / ".pending" / "bob").exists()
    assert book.test("bob", failed["test_key"])["status"] == "failed"
    assert book.final_scores()["bob"]["final"] == pytest.approx(0.9 * new_raw)  # the override and the late penalty carried over
    assert [o["test_key"] for o in book.overrides("bob")] == [other["test_key"]]
    history = book.history("bob")
    assert [(h["suite_version"], h["superseded_by"]) for h in history] == [("older-suite", "regrade")]
    assert json.loads(history[0]["results"])["extra_data"]["suite_version"] == "older-suite"
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == book.submission("bob")["score"]


@needs_sandbox
def test_a_forced_regrade_that_changes_nothing_can_be_discarded(graded):
    klass, config, out, book_path, _ = graded
    book = Gradebook(book_path)
    before = {s: book.submission(s)["graded_at"] for s in book.students()}
    cli("grade", str(klass), "--out", str(out), "--config", str(config), "--regrade-all", *SCOPE)
    assert "2 pending regrade(s): 0 would change a grade, 2 would not" in plain(cli("regrade", "show", "--gradebook", str(book_path)))
    assert "discarded 2 pending regrade(s)" in plain(cli("regrade", "discard", "--gradebook", str(book_path)))
    assert book.pending() == [] and {s: book.submission(s)["graded_at"] for s in book.students()} == before


def test_a_new_submission_counts_at_once_and_drops_a_pending_regrade_of_the_old(tmp_path):
    book = Gradebook(tmp_path / "gb.sqlite")
    test = {"score": 1.0, "max_score": 1.0, "status": "passed", "output": "", "tags": ["tensors"], "extra_data": {"key": "k1"}}
    old = {"score": 1.0, "max_score": 1.0, "tests": [test], "extra_data": {"suite_version": "s1", "grader_version": "g"}}
    book.record("ann", "sha-old", "", old, Late(), 1.0)
    book.record_pending("ann", "sha-old", "", {**old, "extra_data": {"suite_version": "s2"}}, Late(), 1.0, tmp_path / "ann.json")
    new = {**old, "score": 0.0, "tests": [{**test, "score": 0.0, "status": "failed"}]}
    book.record("ann", "sha-new", "", new, Late(), 1.0)
    assert book.pending() == [] and book.submission("ann")["submission_sha256"] == "sha-new"
    assert [(h["submission_sha256"], h["superseded_by"]) for h in book.history("ann")] == [("sha-old", "submission")]
