"""Trusted side: the late policy (the [late] table of the course config) and submission times.

    [late]
    deadline = "2025-10-14T23:59:00-07:00"   # ISO 8601; give the zone, or the machine's is used
    grace_minutes = 15                         # later than the deadline by at most this: on time
    penalty_per_day = 10                       # percent of the score per day late (a started day counts)
    max_days = 3                               # later than this many days: the penalty is 100%

When was a submission made? The `submitted_at` (or Gradescope's `created_at`) of a
`submission_metadata.json` in the student's folder, or beside a `NAME.zip` as
`NAME.submission_metadata.json`; else the folder's or the .zip's modification time.
The metadata must come from the course's LMS export, not from the student: a .zip's own
contents are never read for it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from grader.compat import tomllib
from grader.gradebook import Late

METADATA = "submission_metadata.json"


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime
    penalty_per_day: float
    max_days: int
    grace: timedelta = timedelta(0)

    def assess(self, submitted_at: datetime) -> Late:
        overdue = submitted_at - self.deadline - self.grace
        days = max(0, math.ceil(overdue / timedelta(days=1)))
        penalty = 0.0 if days == 0 else 100.0 if days > self.max_days else min(100.0, days * self.penalty_per_day)
        return Late(submitted_at.isoformat(), days, penalty)


def load_policy(config: Path | None) -> LatePolicy | None:
    """The course config's late policy; None when there is no config or no [late] table."""
    if config is None:
        return None
    table = tomllib.loads(config.read_text()).get("late")
    if table is None:
        return None
    deadline = table["deadline"]
    deadline = deadline if isinstance(deadline, datetime) else _parse_time(str(deadline))
    return LatePolicy(
        deadline=_aware(deadline),
        penalty_per_day=float(table.get("penalty_per_day", 0)),
        max_days=int(table.get("max_days", 10**6)),
        grace=timedelta(minutes=float(table.get("grace_minutes", 0))),
    )


def submitted_at(submission: Path) -> datetime:
    metadata = submission / METADATA if submission.is_dir() else submission.with_name(f"{submission.stem}.{METADATA}")
    if metadata.is_file():
        data = json.loads(metadata.read_text())
        stamp = data.get("submitted_at") or data.get("created_at")
        if stamp:
            return _aware(_parse_time(str(stamp)))
    return datetime.fromtimestamp(submission.stat().st_mtime, tz=timezone.utc)


def assess(policy: LatePolicy | None, submission: Path) -> Late:
    when = submitted_at(submission)
    return policy.assess(when) if policy else Late(when.isoformat(), 0, 0.0)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.astimezone()  # naive: the machine's zone
