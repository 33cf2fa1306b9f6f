"""Which misconception hints a student sees, and when: course.toml's [hints] table (the report reads it).

The hints themselves are found while grading (grader/core/hints.py); this decides only who reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grader.staff.course import config as config_module
from grader.staff.course.config import HintRules


# --- where hints show (the course config's [hints] table) ---------------------------------
@dataclass(frozen=True)
class HintPolicy:
    """show: "public" (hints public tests' replies give; the default), "all", or "never".
    hidden_after_deadline: from the [late] deadline on, "public" shows hidden tests' hints too."""

    show: str = HintRules.show  # the course config's defaults (grader/staff/course/config.py)
    hidden_after_deadline: bool = HintRules.hidden_after_deadline
    deadline: datetime | None = None

    def shows(self, hint: dict, now: datetime | None = None) -> bool:
        if self.show == "never":
            return False
        if self.show == "all" or hint.get("visibility") == "public":
            return True
        now = now or datetime.now(timezone.utc)
        return self.hidden_after_deadline and self.deadline is not None and now >= self.deadline


def load_policy(config: Path | None) -> HintPolicy:
    """The course config's [hints] table (grader/staff/course/config.py checks it); ConfigError if it is wrong."""
    course = config_module.load(config)
    deadline = course.late.deadline if course.late else None
    return HintPolicy(course.hints.show, course.hints.hidden_after_deadline, deadline)


def shown(results: dict, policy: HintPolicy, now: datetime | None = None) -> list[dict]:
    """The hints of one results.json that the policy lets its student see (hidden ones resolved here)."""
    return resolved([h for h in (results.get("extra_data") or {}).get("hints", []) if policy.shows(h, now)])


def resolved(hints: list[dict]) -> list[dict]:
    """Each hint in full (grader/core/hints.py's resolve: a hidden one's text from the library)."""
    if not hints:
        return []
    from grader.core.hints import resolve  # torch (the hint library's own imports): seconds, paid only where a hint is

    return [resolve(h) for h in hints]
