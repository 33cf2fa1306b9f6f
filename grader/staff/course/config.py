"""Trusted side: the course config (course.toml), checked whole before anything runs.

    [late]                                     # the late policy (optional)
    deadline = "2025-10-14T23:59:00-07:00"     # ISO 8601 date and time; give the zone, or the machine's is used
    grace_minutes = 15                         # later than the deadline by at most this: on time
    penalty_per_day = 10                       # percent of the score per day late (a started day counts)
    max_days = 3                               # later than this many days: the penalty is 100%

    [submissions]                              # optional: where submission times come from
    times = "submission_times.csv"             # a staff file of submission times (relative to course.toml)
    modification_times = false                 # true: with no staff time, the folder's or .zip's modification time
                                               # (off by default: unzipping a class after the deadline makes everyone late)

    [extensions]                               # optional, per student (needs [late])
    alice = 2                                  # extra days after the deadline
    bob = "2025-10-20T23:59:00-07:00"          # a new deadline

    [hints]                                    # optional: where misconception hints show
    show = "public"                            # "public" (hints for failed public tests), "all" or "never"
    hidden_after_deadline = false              # also hints for failed hidden tests, once the deadline passed

    [course]                                   # optional: rendered into the handout by `release --config`
    name = "CS 336: Language Modeling from Scratch"
    term = "2025-fall"                         # also seeds the written part's numbers: keep it for the whole term

    [policies]                                 # optional: texts the handout shows (defaults: grader/staff/course/logistics.py)
    collaboration = "..."                      # who may help with what
    ai_tools = "..."                           # what AI assistants may be used for
    submission = "..."                         # where and how to hand in
    hardware = "..."                           # what the grading machine is (CPU only? a GPU?)
    hours = "..."                              # the time the assignment is expected to take

    [integrity]                                # optional: what a `tamper` flag does (grader/core/integrity.py)
    tamper = "flag"                            # "flag" (the default: flag for staff, the score stands) or
                                               # "zero" (also hold the problem at 0 until staff release it)

Every table and key is in SCHEMA ([extensions]' keys are student names); anything else is an
error, as is a value of the wrong kind. Each message names the file, the key and what was
expected, so a typo (`[lat]`, `deadlin`) stops the run instead of silently dropping the late
policy. Hand-written, not a schema library: seven small tables do not need one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from grader.compat import tomllib

ISO_EXAMPLE = "2025-10-14T23:59:00-07:00"


class ConfigError(ValueError):
    """The course config (or a staff file it names) is wrong; the message says where and how."""


def parse_time(text: str) -> datetime:
    """An ISO 8601 date and time ("Z" allowed); naive: the machine's zone. ValueError if not one."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if len(text.strip()) <= 10:  # a bare date: which minute of it is the deadline?
        raise ValueError("a date without a time")
    return moment if moment.tzinfo else moment.astimezone()


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, date) or not isinstance(value, str):
        raise ValueError
    return parse_time(value)


def _number(low: float = 0.0, high: float = math.inf) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError
        return float(value)
    return check


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError
    return value


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError
        return value
    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _extension(value: Any) -> float | datetime:
    """Extra days (a number above 0) or a new deadline (a date and time)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 < value <= 366:
            raise ValueError
        return float(value)
    return _time(value)


EXTENSION_EXPECTED = f'extra days (a number above 0, e.g. 2) or a new deadline (e.g. "{ISO_EXAMPLE}")'


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value


# table -> key -> (check, what was expected, required)
SCHEMA: dict[str, dict[str, tuple[Callable[[Any], Any], str, bool]]] = {
    "late": {
        "deadline": (_time, f"an ISO 8601 date and time such as \"{ISO_EXAMPLE}\"", True),
        "grace_minutes": (_number(), "a number of minutes, 0 or more", False),
        "penalty_per_day": (_number(0, 100), "a percentage from 0 to 100", False),
        "max_days": (_whole, "a whole number of days, 0 or more", False),
    },
    "submissions": {
        "times": (_text, "the path of a staff file of submission times (.csv with columns student,submitted_at, or .json)", False),
        "modification_times": (_flag, "true or false (true: a submission with no staff time is timed by its modification time)", False),
    },
    "hints": {
        "show": (_choice("public", "all", "never"), 'one of "public", "all", "never"', False),
        "hidden_after_deadline": (_flag, "true or false", False),
    },
    "integrity": {
        "tamper": (_choice("flag", "zero"), 'one of "flag", "zero"', False),
    },
    "course": {
        "name": (_text, "the course's name, as the handout shows it", False),
        "term": (_text, 'the term, such as "2025-fall" (it seeds the written part\'s numbers)', False),
    },
    "policies": {
        name: (_text, f"a text for the handout ({what})", False)
        for name, what in (("collaboration", "the collaboration policy"), ("ai_tools", "the AI-tools policy"),
                           ("submission", "where and how to submit"), ("hardware", "the grading hardware"),
                           ("hours", "the expected time"))
    },
}


# The checked tables, typed; each optional key's default lives here and nowhere else.
@dataclass(frozen=True)
class LateRules:
    """[late]: the deadline, then what lateness costs (late.py applies it, logistics.py words it)."""

    deadline: datetime
    grace_minutes: float = 0.0
    penalty_per_day: float = 0.0
    max_days: int | None = None  # None: no day after which the score is 0


@dataclass(frozen=True)
class HintRules:
    """[hints]: where misconception hints show (hint_policy.py)."""

    show: str = "public"
    hidden_after_deadline: bool = False


@dataclass(frozen=True)
class CourseInfo:
    """[course]: what the handout calls the course; the term also seeds the written part's numbers."""

    name: str | None = None
    term: str = ""  # "": the repository's default


@dataclass(frozen=True)
class Course:
    late: LateRules | None = None  # None: no late policy
    times_file: Path | None = None  # [submissions] times, resolved against the config's folder
    hints: HintRules = HintRules()
    modification_times: bool = False  # [submissions] modification_times: staff opted in to them
    extensions: dict[str, float | datetime] = field(default_factory=dict)  # student -> extra days or a new deadline
    tamper: str = "flag"  # [integrity] tamper: what a tamper flag does (grader/core/integrity.py)
    course: CourseInfo = CourseInfo()
    policies: dict[str, str] = field(default_factory=dict)  # [policies]: handout texts by placeholder name (defaults: logistics.py)

    @property
    def term(self) -> str:
        """The term the written part's numbers are drawn with ("" without one: the repository's default)."""
        return self.course.term


def load(path: Path | None) -> Course:
    """The checked course config; Course() without one. Raises ConfigError listing every problem."""
    if path is None:
        return Course()
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    tables, problems = {}, []
    for name, table in raw.items():
        if name == "extensions" and isinstance(table, dict):
            tables[name] = _check_extensions(path, table, problems)
        elif name not in SCHEMA and name != "extensions":
            problems.append(f"{path}: unknown table [{name}]; expected one of {_names([*SCHEMA, 'extensions'])}")
        elif not isinstance(table, dict):
            problems.append(f"{path}: {name} must be a table ([{name}])")
        else:
            tables[name] = _check_table(path, name, table, problems)
    if tables.get("extensions") and "late" not in tables:
        problems.append(f"{path}: [extensions] needs a [late] table: an extension moves its deadline")
    if problems:
        raise ConfigError("\n".join(problems))
    submissions = tables.get("submissions", {})
    times = submissions.get("times")
    defaults = Course()
    return Course(
        late=LateRules(**tables["late"]) if "late" in tables else None, times_file=(path.parent / times) if times else None,
        hints=HintRules(**tables.get("hints", {})), extensions=tables.get("extensions", {}),
        modification_times=submissions.get("modification_times", defaults.modification_times),
        course=CourseInfo(**tables.get("course", {})), policies=tables.get("policies", {}),
        tamper=tables.get("integrity", {}).get("tamper", defaults.tamper),
    )


def _check_extensions(path: Path, table: dict, problems: list[str]) -> dict[str, float | datetime]:
    checked = {}
    for student, value in table.items():
        try:
            checked[student] = _extension(value)
        except ValueError:
            problems.append(f"{path}: [extensions] {student!r} = {value!r}: expected {EXTENSION_EXPECTED}")
    return checked


def _check_table(path: Path, name: str, table: dict, problems: list[str]) -> dict:
    schema, checked = SCHEMA[name], {}
    for key, value in table.items():
        if key not in schema:
            problems.append(f"{path}: [{name}] {key}: unknown key; expected one of {_names(schema)}")
            continue
        check, expected, _ = schema[key]
        try:
            checked[key] = check(value)
        except ValueError:
            problems.append(f"{path}: [{name}] {key} = {value!r}: expected {expected}")
    for key, (_, expected, required) in schema.items():
        if required and key not in table:
            problems.append(f"{path}: [{name}] {key} is missing: expected {expected}")
    return checked


def _names(names) -> str:
    return ", ".join(names)
