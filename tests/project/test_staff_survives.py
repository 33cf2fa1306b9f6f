"""Every staff command survives any one student's input (issue 17), through the CLI as staff run it.

One class, graded once with `--only named_dims` (the cheapest problem to grade): a student whose folder name is 231 bytes long (its
LMS metadata's name beside it would be too long to exist), one whose submission-manifest.json
opens 100,000 brackets, one named `z[@click=(]` (rich markup), names that look alike on a screen
(a zero-width space, a bidi override, `zoë` composed and decomposed), and a folder `carol/` beside
a `carol.zip`. Each of these stopped a command for the whole class before; each is kept as test
data here and must cost only its own student: grade, report, show, override, regrade show,
similarity (a module the parser runs out of memory on) and the Gradescope entry point.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.core import rubric
from grader.core.machine import isolation_level
from grader.staff.grading.gradebook import Gradebook, Late
from grader.staff.report.pages import page_stem
from seam import REPO_ROOT
from grader.core.variants import reference_into
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("staff-survives"), pytest.mark.timeout(900)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

PROBLEM = QUICKEST
SCOPE = ["--only", PROBLEM, "--skip-canary", "--jobs", "2", "--call-timeout", "8", "--test-timeout", "30"]
POINTS = round(rubric.load().only([PROBLEM]).total, 4)  # the points of the one problem graded
LONG = "s" * 231
MARKUP = "z[@click=(]"
LOOK_ALIKE = {"alice": "alice", "alice\u200b": "alice\\u200b", "zo\u00eb": "zo\\xeb", "zoe\u0308": "zoe\\u0308", "\u202eevad": "\\u202eevad"}
INVISIBLE = ("\u200b", "\u202e", "e\u0308")
MANIFEST_BOMB = '{"sha256": ' + "[" * 100_000
PARSER_BOMB = "\nx = " + "-" * 7000 + "1\n"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "80", **env}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True, env=environment, timeout=800)


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("survives") / "class"
    reference_into(root / LONG)
    (reference_into(root / "mona") / "submission-manifest.json").write_text(MANIFEST_BOMB)
    reference_into(root / MARKUP)
    for name in LOOK_ALIKE:
        (root / name).mkdir()
    (root / "carol").mkdir()
    (root / "carol.zip").write_bytes(b"PK\x03\x04 not a zip")
    return root


@pytest.fixture(scope="module")
def graded(klass) -> dict:
    out = klass.parent / "out"
    grade = cli("grade", str(klass), "--out", str(out), *SCOPE)
    report = cli("report", str(klass.parent / "report"), "--gradebook", str(out / "gradebook.sqlite"))
    shown = cli("show", "--gradebook", str(out / "gradebook.sqlite"))
    return {"grade": grade, "report": report, "show": shown, "book": out / "gradebook.sqlite", "report_dir": klass.parent / "report"}


def statuses(book: Path) -> dict[str, str]:
    with sqlite3.connect(book) as db:
        return dict(db.execute("SELECT student, status FROM submissions"))


@needs_sandbox
def test_grade_goes_on_past_every_hostile_name_and_manifest(graded):
    grade = graded["grade"]
    assert grade.returncode == 0, grade.stdout[-3000:] + grade.stderr[-3000:]
    found = statuses(graded["book"])
    assert found == {LONG: "graded", "mona": "graded", MARKUP: "graded", "carol": "unreadable", "carol.zip": "unreadable",
                     **{name: "unreadable" for name in LOOK_ALIKE}}
    book = Gradebook(graded["book"])
    assert book.submission(LONG)["score"] == book.submission("mona")["score"] == POINTS
    flags = json.loads(book.submission("mona")["integrity_flags"])
    assert [f["kind"] for f in flags] == ["manifest-mismatch"] and "cannot be read" in flags[0]["detail"]
    assert "two submissions for one student?" in " ".join(grade.stdout.split())  # carol/ and carol.zip: said, not fatal


@needs_sandbox
def test_names_that_hide_or_disguise_characters_show_escaped_and_distinct(graded):
    outputs = {
        "grade": graded["grade"].stdout, "show": graded["show"].stdout,
        **{name: (graded["report_dir"] / name).read_text() for name in ("report.md", "report.html", "grades.csv")},
    }
    for where, text in outputs.items():
        for hidden in INVISIBLE:
            assert hidden not in text, (where, hidden)
    for where in ("grade", "show", "report.md", "report.html"):
        text = outputs[where].replace("\\\\", "\\")  # report.md escapes the backslash itself
        for escaped in LOOK_ALIKE.values():
            assert escaped in text, (where, escaped)
    groups = [line.rsplit(": ", 1)[1] for line in graded["show"].stdout.splitlines() if line.startswith("names that look alike")]
    assert sorted(groups) == ["alice, alice\\u200b", "zoe\\u0308, zo\\xeb"], groups


@needs_sandbox
def test_override_and_regrade_show_treat_any_name_as_text(graded, tmp_path):
    """`regrade show` with a pending regrade for `z[@click=(]` (rich markup), and an override on one of
    two look-alike students that says which one it changed."""
    book_path = tmp_path / "gradebook.sqlite"
    shutil.copy(graded["book"], book_path)
    book = Gradebook(book_path)
    results = book.results(MARKUP)
    book.record_pending(MARKUP, book.submission(MARKUP)["submission_sha256"], PROBLEM, results, Late(), 1.0, tmp_path / "r.json")
    key = book.tests("alice")[0]["test_key"]
    book.close()
    shown = cli("regrade", "show", "--all", "--gradebook", str(book_path))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"{MARKUP}: final" in shown.stdout
    override = cli("override", "alice", key, "0", "--reason", "checked by hand", "--by", "ta", "--gradebook", str(book_path))
    assert override.returncode == 0, override.stdout + override.stderr
    assert "'alice' looks like alice\\u200b" in " ".join(override.stdout.split())
    with sqlite3.connect(book_path) as db:
        assert db.execute("SELECT student FROM overrides").fetchall() == [("alice",)]


@needs_sandbox
def test_report_writes_every_students_page_whatever_the_name(graded):
    report = graded["report"]
    assert report.returncode == 0, report.stdout + report.stderr
    pages = {p.name for p in (graded["report_dir"] / "feedback").iterdir()}
    assert len(pages) == 2 * len(statuses(graded["book"]))
    assert f"{page_stem(LONG)}.md" in pages and f"{MARKUP}.html" in pages and len(page_stem(LONG).encode()) <= 200
    assert f"feedback/{page_stem(LONG)}.md" in (graded["report_dir"] / "report.md").read_text()  # the roster links it


def test_similarity_goes_on_past_a_module_the_parser_runs_out_of_memory_on(tmp_path):
    klass = tmp_path / "class"
    for name in ("ann", "ben"):
        reference_into(klass / name)
    with open(reference_into(klass / "max") / "assignment" / "tensors.py", "a") as module:
        module.write(PARSER_BOMB)
    finished = cli("similarity", str(klass), "--out", str(tmp_path / "similarity"))
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "max: not compared in part: tensors.py does not parse" in " ".join(finished.stdout.split())
    page = (tmp_path / "similarity" / "similarity.html").read_text()
    assert "Not compared" in page and "tensors.py does not parse" in page


@needs_sandbox
def test_the_gradescope_entry_point_grades_past_a_manifest_bomb(klass, tmp_path):
    """The manifest that made every run a grader error: Gradescope still gets results.json, with the flag."""
    root = tmp_path / "autograder"
    shutil.copytree(klass / "mona", root / "submission")
    environment = {**os.environ, "GRADER_ONLY": PROBLEM}
    finished = subprocess.run([sys.executable, "-m", "grader.staff.grading.gradescope", str(root)], cwd=REPO_ROOT, capture_output=True,
                              text=True, env=environment, timeout=600)
    assert (root / "results" / "results.json").is_file(), finished.stdout[-2000:] + finished.stderr[-3000:]
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == POINTS and [f["kind"] for f in data["extra_data"]["integrity_flags"]] == ["manifest-mismatch"]
