"""Input checked before anything runs: course.toml, --jobs, staff files of submission times.

Each case runs `python -m grader grade` as a TA would and expects exit status 2, a message that
names the file, the key and what was expected, and nothing graded (no gradebook written).
No grading happens here: every refusal comes before the sandbox starts.
"""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.core import variants

from grader.staff.course import config, late
from grader.staff.course.config import ConfigError
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e]

GOOD_LATE = '[late]\ndeadline = "2025-10-14T23:59:00-07:00"\ngrace_minutes = 15\npenalty_per_day = 10\nmax_days = 3\n'


def grade(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "grader", "grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=environment)


@pytest.fixture
def klass(tmp_path) -> Path:
    variants.reference_into(tmp_path / "class" / "ann")
    return tmp_path / "class"


def refused(tmp_path: Path, toml: str, *expected: str) -> None:
    (tmp_path / "course.toml").write_text(toml)
    finished = grade(tmp_path, "--config", str(tmp_path / "course.toml"))
    message = " ".join(finished.stdout.split())
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert "Traceback" not in finished.stdout + finished.stderr
    for part in expected:
        assert part in message, (part, message)
    assert not (tmp_path / "out").exists(), "nothing may run before the config is right"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[lat]\ndeadline = 2025-10-14T23:59:00Z\n", ["unknown table [lat]", "expected one of late, submissions"]),
        ('[late]\ndeadlin = "2025-10-14T23:59:00Z"\n', ["[late] deadlin: unknown key", "expected one of deadline", "[late] deadline is missing"]),
        ('[late]\ndeadline = "Oct 14"\n', ["[late] deadline = 'Oct 14'", "ISO 8601 date and time such as \"2025-10-14T23:59:00-07:00\""]),
        ("[late]\ndeadline = 2025-10-14\n", ["[late] deadline", "ISO 8601 date and time"]),
        ('[late]\ndeadline = "2025-10-14T23:59:00Z"\npenalty_per_day = "10%"\n', ["[late] penalty_per_day = '10%'", "a percentage from 0 to 100"]),
        ('[late]\ndeadline = "2025-10-14T23:59:00Z"\nmax_days = -1\n', ["[late] max_days = -1", "a whole number of days"]),
        ("[late\ndeadline = 1\n", ["not valid TOML", "line 1"]),
        ('[late]\ndeadline = "2025-10-14T23:59:00Z"\n[extensions]\nann = "next week"\n', ["[extensions] 'ann' = 'next week'", "extra days"]),
        ('[extensions]\nann = 2\n', ["[extensions] needs a [late] table"]),
        ('[late]\ndeadline = "2025-10-14T23:59:00Z"\n\n\ngrace_minutes = = 3\n', ["not valid TOML", "line 5"]),
    ],
    ids=["misspelled-table", "misspelled-key", "not-a-date", "a-bare-date", "wrong-type", "negative", "syntax", "syntax-line-5",
         "extension-not-a-date", "extension-without-late"],
)
def test_a_wrong_course_config_is_refused_naming_file_key_and_expectation(klass, tmp_path, toml, expected):
    refused(tmp_path, toml, f"{tmp_path / 'course.toml'}: ", *expected)


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_must_be_positive(klass, tmp_path, jobs):
    finished = grade(tmp_path, "--jobs", jobs)
    assert finished.returncode == 2 and "--jobs" in finished.stderr and "must be 1 or more" in finished.stderr


@pytest.mark.parametrize("policy", [GOOD_LATE, ""], ids=["with-a-late-policy", "without"])
def test_malformed_staff_metadata_beside_a_submission_is_one_clear_error_up_front(klass, tmp_path, policy):
    beside = klass / "ann.submission_metadata.json"
    beside.write_text(json.dumps({"submitted_at": "not a date"}))
    refused(tmp_path, policy, str(beside), "submitted_at = 'not a date'", "expected an ISO 8601 date and time")


def test_a_staff_times_file_named_in_the_config_is_checked_up_front(klass, tmp_path):
    (tmp_path / "times.csv").write_text("student,submitted_at\nann,yesterday\n")
    refused(tmp_path, GOOD_LATE + '[submissions]\ntimes = "times.csv"\n', f"{tmp_path / 'times.csv'} line 2: submitted_at = 'yesterday'")
    refused(tmp_path, '[submissions]\ntimes = "nope.csv"\n', f"{tmp_path / 'nope.csv'}", "cannot be read")


# --- where the submission time comes from (no grading needed) ------------------------------
def test_submission_times_come_from_staff_sources_in_order_never_from_the_submission(tmp_path):
    deadline = datetime(2025, 10, 14, 23, 59, tzinfo=timezone.utc)
    folder = tmp_path / "class" / "ann"
    folder.mkdir(parents=True)
    (folder / "submission_metadata.json").write_text(json.dumps({"submitted_at": "2000-01-01T00:00:00Z"}))  # the student's
    stamp = (deadline + timedelta(days=1)).timestamp()
    os.utime(folder, (stamp, stamp))
    assert late.SubmissionTimes().submitted_at("ann", folder) == (None, "unknown")  # neither hers nor the folder's
    opted_in = late.SubmissionTimes(modification_times=True)
    assert opted_in.submitted_at("ann", folder) == (deadline + timedelta(days=1), "modification time")  # only when asked

    (tmp_path / "class" / "ann.submission_metadata.json").write_text(json.dumps({"created_at": "2025-10-14T20:00:00Z"}))
    assert late.SubmissionTimes().submitted_at("ann", folder) == (datetime(2025, 10, 14, 20, tzinfo=timezone.utc), "LMS export")

    (tmp_path / "times.json").write_text(json.dumps({"ann": "2025-10-16T00:00:00+00:00"}))
    assert late.SubmissionTimes(tmp_path / "times.json").submitted_at("ann", folder) == (datetime(2025, 10, 16, tzinfo=timezone.utc), "staff file")

    archive = tmp_path / "class" / "bob.zip"
    archive.write_bytes(b"")
    assert late.beside_metadata(archive) == tmp_path / "class" / "bob.submission_metadata.json"


def test_an_extension_moves_that_students_deadline_only(tmp_path):
    (tmp_path / "course.toml").write_text(GOOD_LATE + '[extensions]\nann = 2\nbob = "2025-10-20T23:59:00-07:00"\n')
    policy = late.policy_of(config.load(tmp_path / "course.toml"))
    two_days_late = policy.deadline + timedelta(days=1, hours=12)
    assert policy.assess(two_days_late, "ann").penalty_pct == 0 and policy.assess(two_days_late, "ann").extension == "2 extra day(s)"
    assert policy.assess(two_days_late, "cat").penalty_pct == 20 and policy.assess(two_days_late, "cat").extension == ""
    bob = policy.assess(datetime(2025, 10, 22, 6, 59, tzinfo=timezone.utc), "bob")  # 2025-10-21T23:59-07:00: one day after his
    assert (bob.days_late, bob.deadline) == (1, "2025-10-20T23:59:00-07:00")
    unknown = policy.assess(None, "ann")
    assert (unknown.penalty_pct, unknown.time_source, unknown.submitted_at) == (0, "unknown", None)


def test_a_checked_config_becomes_the_late_policy(tmp_path):
    (tmp_path / "course.toml").write_text(GOOD_LATE + '[submissions]\ntimes = "t.csv"\n')
    course = config.load(tmp_path / "course.toml")
    policy = late.policy_of(course)
    assert policy.deadline == datetime(2025, 10, 15, 6, 59, tzinfo=timezone.utc)
    assert (policy.penalty_per_day, policy.max_days, policy.grace) == (10.0, 3, timedelta(minutes=15))
    assert course.times_file == tmp_path / "t.csv"
    assert late.policy_of(config.load(None)) is None
    with pytest.raises(ConfigError, match="must be a table"):
        (tmp_path / "bad.toml").write_text('late = "soon"\n')
        config.load(tmp_path / "bad.toml")
