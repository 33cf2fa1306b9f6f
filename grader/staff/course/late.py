"""Trusted side: the late policy (course.toml's [late] table, see grader/staff/course/config.py), per-student
extensions ([extensions]) and submission times.

When was a submission made? Only where staff put it, never from the submission itself, and
every time says where it came from (its `time_source`):
1. "staff file": the file that course.toml's `[submissions] times` names (a row or key per student);
2. "LMS export": the export's metadata BESIDE the submission in the class folder,
   `STUDENT.submission_metadata.json` next to `STUDENT/` or `STUDENT.zip`, its `submitted_at`
   (or Gradescope's `created_at`);
3. "modification time": the folder's or .zip's, ONLY where course.toml opts in
   (`[submissions] modification_times = true`): unzipping a class after the deadline would
   otherwise make everyone late;
4. else "unknown": the late policy takes nothing off, and staff outputs list the student as
   "time unknown" to settle by hand (or with a staff file).
A `submission_metadata.json` inside a student's folder or archive is the student's to write: it
is never read. A time that is not a date is an error before grading starts (SubmissionTimes.check).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from grader.staff.course.config import ISO_EXAMPLE, ConfigError, Course, parse_time
from grader.staff.grading.gradebook import Late

METADATA = "submission_metadata.json"
TIME_KEYS = ("submitted_at", "created_at")  # ours, Gradescope's
MAX_METADATA_BYTES = 2**20
STAFF_FILE, LMS_EXPORT, MODIFIED, UNKNOWN = "staff file", "LMS export", "modification time", "unknown"


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime
    penalty_per_day: float
    max_days: int | None  # None: no cap
    grace: timedelta = timedelta(0)
    extensions: dict[str, float | datetime] = field(default_factory=dict)  # student -> extra days or a new deadline

    def deadline_for(self, student: str | None) -> tuple[datetime, str]:
        """The student's deadline and their extension in words ("2 extra day(s)", "until ..."; "" without one)."""
        extension = self.extensions.get(student) if student is not None else None
        if isinstance(extension, datetime):
            return extension, f"until {extension.isoformat()}"
        if extension:
            return self.deadline + timedelta(days=extension), f"{extension:g} extra day(s)"
        return self.deadline, ""

    def assess(self, submitted_at: datetime | None, student: str | None = None, source: str = STAFF_FILE) -> Late:
        deadline, extension = self.deadline_for(student)
        if submitted_at is None:  # no staff word on the time: nothing taken off, and staff are told
            return Late(None, 0, 0.0, UNKNOWN, deadline.isoformat(), extension)
        overdue = submitted_at - deadline - self.grace
        days = max(0, math.ceil(overdue / timedelta(days=1)))
        capped = self.max_days is not None and days > self.max_days
        penalty = 0.0 if days == 0 else 100.0 if capped else min(100.0, days * self.penalty_per_day)
        return Late(submitted_at.isoformat(), days, penalty, source, deadline.isoformat(), extension)


def policy_of(course: Course) -> LatePolicy | None:
    """The course's late policy (its [late] table, already checked) with its extensions; None without one."""
    if course.late is None:
        return None
    return LatePolicy(
        deadline=course.late.deadline,
        penalty_per_day=course.late.penalty_per_day,
        max_days=course.late.max_days,
        grace=timedelta(minutes=course.late.grace_minutes),
        extensions=dict(course.extensions),
    )


class SubmissionTimes:
    """Submission times from staff sources only (see the module's docstring)."""

    def __init__(self, times_file: Path | None = None, modification_times: bool = False):
        self.staff = _read_staff_file(times_file) if times_file else {}
        self.modification_times = modification_times

    @classmethod
    def of(cls, course: Course) -> SubmissionTimes:
        return cls(course.times_file, course.modification_times)

    def submitted_at(self, student: str, submission: Path) -> tuple[datetime | None, str]:
        """(the time, where it came from); (None, "unknown") where no staff source has it."""
        if student in self.staff:
            return self.staff[student], STAFF_FILE
        beside = beside_metadata(submission)
        if _is_file(beside):
            found = _stamp_in(beside)
            if found is not None:
                key, stamp = found
                return _parsed(stamp, f"{beside}: {key}"), LMS_EXPORT
        if self.modification_times:
            return datetime.fromtimestamp(submission.lstat().st_mtime, tz=timezone.utc), MODIFIED
        return None, UNKNOWN

    def check(self, students: dict[str, Path]) -> None:
        """Every student's time, read now: one ConfigError naming each bad file, before any grading."""
        problems = []
        for student, submission in students.items():
            try:
                self.submitted_at(student, submission)
            except ConfigError as error:
                problems.append(str(error))
        if problems:
            raise ConfigError("\n".join(problems))

    def assess(self, policy: LatePolicy | None, student: str, submission: Path) -> Late:
        when, source = self.submitted_at(student, submission)
        if policy is not None:
            return policy.assess(when, student, source)
        return Late(when.isoformat() if when else None, 0, 0.0, source)


def beside_metadata(submission: Path) -> Path:
    """The LMS export's metadata file for `submission`: next to it in the class folder, never inside."""
    return submission.with_name(f"{submission.stem if submission.suffix == '.zip' else submission.name}.{METADATA}")


def _is_file(path: Path) -> bool:
    """A regular file there; False for a name the file system refuses (a student's folder name can
    be long enough that the metadata's name beside it is too long to exist)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _stamp_in(metadata: Path):
    try:
        with open(metadata, "rb") as handle:
            data = json.loads(handle.read(MAX_METADATA_BYTES + 1)[:MAX_METADATA_BYTES])
    except (OSError, ValueError, RecursionError) as error:
        raise ConfigError(f"{metadata}: not readable JSON ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{metadata}: expected a JSON object with {' or '.join(TIME_KEYS)}")
    return next(((k, data[k]) for k in TIME_KEYS if data.get(k)), None)  # (key, its value)


def _read_staff_file(path: Path) -> dict[str, datetime]:
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path} (course.toml's [submissions] times): cannot be read ({error.strerror or error})") from None
    if path.suffix == ".json":
        try:
            rows = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(rows, dict):
            raise ConfigError(f"{path}: expected a JSON object, student -> submission time")
        items = [(str(k), v, f"{path}: {k}") for k, v in rows.items()]
    else:
        reader = csv.DictReader(text.splitlines())
        if not {"student", "submitted_at"} <= set(reader.fieldnames or ()):
            raise ConfigError(f"{path}: expected a CSV with the columns student,submitted_at")
        items = [(row["student"], row["submitted_at"], f"{path} line {n}: submitted_at") for n, row in enumerate(reader, 2)]
    times, problems = {}, []
    for student, stamp, where in items:
        try:
            times[student] = _parsed(stamp, where)
        except ConfigError as error:
            problems.append(str(error))
    if problems:
        raise ConfigError("\n".join(problems))
    return times


def _parsed(stamp, where: str) -> datetime:
    try:
        return parse_time(str(stamp))
    except ValueError:
        raise ConfigError(f"{where} = {str(stamp)[:80]!r}: expected an ISO 8601 date and time such as \"{ISO_EXAMPLE}\"") from None
