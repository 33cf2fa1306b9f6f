"""Trusted side (staff): the handout's course logistics, filled in from course.toml at release.

handout.md's "Course logistics" section names its values as placeholders, `{{ due }}`, and
`python -m grader release --config course.toml` writes the student bundle's handout with them
filled in: the due date and late policy from `[late]` (the very values `grade` applies), the
course's name from `[course]`, and the texts staff write in `[policies]`. A value course.toml
does not give is the default below, and the release says which ones were defaults. Lines of the
form `<!-- staff: ... -->` are notes for staff and are dropped from the bundle's handout.
"""

from __future__ import annotations

import re
from datetime import datetime

from grader.staff.course.config import Course, LateRules

PLACEHOLDER = re.compile(r"\{\{ *([a-z_]+) *\}\}")
STAFF_NOTE = re.compile(r"^<!-- staff:.*?-->\n", re.MULTILINE | re.DOTALL)
TBA = "to be announced by the course staff"

DEFAULTS = {
    "course": "this course",
    "due": TBA,
    "late_policy": f"{TBA}.",  # a sentence: the handout goes on after it
    "submission": "run `python -m submit` and upload the `submission.zip` it writes where the course staff say.",
    "collaboration": "discuss ideas with anyone, but write your code and your written answers yourself.",
    "ai_tools": f"{TBA}; until they do, ask before using an AI assistant for anything you hand in.",
    "hardware": "the grader runs your code on a CPU machine; tests marked `cuda` run only where the grading "
    "machine has a GPU, and are skipped there otherwise (neither earned nor lost).",
    "hours": TBA,  # no line ends in a full stop: the handout's bullets are phrases
}


class HandoutError(ValueError):
    """The handout names a placeholder nobody fills in."""


def values(course: Course) -> tuple[dict[str, str], list[str]]:
    """Every placeholder's text, and the names that fell back to their default."""
    given = dict(course.policies)
    info = course.course
    if info.name:
        given["course"] = f"{info.name}, {info.term}" if info.term else info.name
    if course.late is not None:
        given["due"] = deadline(course.late.deadline)
        given["late_policy"] = late_policy(course.late)
    defaults = sorted(name for name in DEFAULTS if name not in given)
    return {**DEFAULTS, **given}, defaults


def render(handout: str, course: Course) -> tuple[str, list[str]]:
    """The handout with its logistics filled in; the names that used their default."""
    filled, defaults = values(course)
    shipped = STAFF_NOTE.sub("", handout)
    used = set(PLACEHOLDER.findall(shipped))
    unknown = sorted(used - set(filled))
    if unknown:
        raise HandoutError(f"handout.md names placeholders nobody fills in: {', '.join(unknown)} (known: {', '.join(sorted(filled))})")
    return PLACEHOLDER.sub(lambda match: filled[match.group(1)], shipped), [name for name in defaults if name in used]


def deadline(moment: datetime) -> str:
    """`Tuesday 14 October 2025, 23:59 (UTC-07:00)`: the day spelled out, the zone given."""
    offset = moment.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "local time"
    return f"{moment:%A %d %B %Y, %H:%M} ({zone})"


def late_policy(late: LateRules) -> str:
    """The [late] table in words, as grader/staff/course/late.py applies it."""
    grace, penalty, max_days = late.grace_minutes, late.penalty_per_day, late.max_days
    parts = [f"up to {grace:g} minutes after the deadline still counts as on time" if grace else "the deadline is exact"]
    if penalty:
        parts.append(f"after that, each day late (a started day counts as a whole one) takes {penalty:g}% off the score")
    else:
        parts.append("a late submission loses nothing" if max_days is None else "a late submission loses nothing at first")
    if max_days is not None:
        parts.append(f"more than {max_days} day(s) late scores 0")
    return "; ".join(parts) + "."
