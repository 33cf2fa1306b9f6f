"""Trusted side: points per test function (tests/rubric.toml) and the score they add up to.

A test function earns its points only when every one of its collected cases that ran
passed; cases skipped for want of a device neither earn nor cost. A function all of whose
cases were skipped counts 0 of 0 and is reported as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.compat import tomllib
from seam import MODULES, REPO_ROOT

RUBRIC_PATH = REPO_ROOT / "tests" / "rubric.toml"


class RubricError(ValueError):
    """The rubric and the suites disagree: a configuration error, not a student's."""


@dataclass(frozen=True)
class Rubric:
    points: dict[str, float]  # test key -> points
    problem_of: dict[str, str]  # test key -> module
    titles: dict[str, str]  # module -> problem title
    hidden_visibility: str
    test_points: float = 100.0  # what all the tests are worth together ([settings]; the rest of 100 is graded otherwise)

    @property
    def total(self) -> float:
        return sum(self.points.values())

    def only(self, modules: list[str] | None) -> "Rubric":
        """The rubric restricted to some problems (for a scoped run); all of it for None."""
        if not modules:
            return self
        unknown = set(modules) - set(MODULES)
        if unknown:
            raise RubricError(f"no such problem(s): {sorted(unknown)}; problems are {MODULES}")
        keep = {k for k, m in self.problem_of.items() if m in modules}
        return Rubric(
            {k: v for k, v in self.points.items() if k in keep},
            {k: v for k, v in self.problem_of.items() if k in keep},
            self.titles,
            self.hidden_visibility,
            self.test_points,
        )


def load(path: Path = RUBRIC_PATH) -> Rubric:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RubricError(f"cannot read the rubric {path}: {error}") from None
    settings = data.pop("settings", {})
    data.pop("written", None)  # the written part: not tests of the suites (grader/core/written.py reads it)
    points, problem_of = {}, {}
    for module, table in data.items():
        if module not in MODULES:
            raise RubricError(f"rubric table [{module}] names no problem; problems are {MODULES}")
        for key, value in table.items():
            if key == "title":
                continue
            if not isinstance(value, (int, float)) or value <= 0:
                raise RubricError(f"rubric [{module}] {key!r}: points must be a positive number")
            points[key], problem_of[key] = float(value), module
    titles = {m: data.get(m, {}).get("title", m) for m in MODULES}
    test_points = settings.get("test_points", 100)
    if not isinstance(test_points, (int, float)) or test_points <= 0:
        raise RubricError(f"rubric [settings] test_points: must be a positive number, not {test_points!r}")
    return Rubric(points, problem_of, titles, settings.get("hidden_visibility", "after_published"), float(test_points))


@dataclass
class TestScore:
    key: str
    module: str
    score: float
    max_score: float
    status: str  # passed / failed / skipped
    output: str
    visible: bool
    seconds: float


def score(rubric: Rubric, cases: list) -> list[TestScore]:
    """One TestScore per rubric entry, from the cases pytest ran here."""
    by_key: dict[str, list] = {}
    for case in cases:
        by_key.setdefault(case.key, []).append(case)
    unknown = sorted(set(by_key) - set(rubric.points))
    missing = sorted(set(rubric.points) - set(by_key))
    if unknown or missing:
        raise RubricError(
            "the rubric and the collected tests disagree:"
            + "".join(f"\n  collected, no points in rubric: {k}" for k in unknown)
            + "".join(f"\n  in rubric, not collected: {k}" for k in missing)
        )
    scores = []
    for key, points in rubric.points.items():
        group = by_key[key]
        wrong = [c for c in group if c.module != rubric.problem_of[key]]
        if wrong:
            raise RubricError(f"{key} is marked {wrong[0].module!r} but the rubric lists it under {rubric.problem_of[key]!r}")
        ran = [c for c in group if c.outcome != "skipped"]
        failed = [c for c in ran if c.outcome != "passed"]
        if not ran:
            status, earned, max_score = "skipped", 0.0, 0.0
            output = f"skipped: {group[0].message}"
        else:
            status = "failed" if failed else "passed"
            earned, max_score = (0.0 if failed else points), points
            output = _output(group, failed)
        scores.append(TestScore(key, rubric.problem_of[key], earned, max_score, status, output, group[0].visible, sum(c.seconds for c in group)))
    return scores


def _output(group: list, failed: list) -> str:
    hint = group[0].hint
    if not failed:
        skipped = [c for c in group if c.outcome == "skipped"]
        note = f" ({len(skipped)} case(s) skipped: {skipped[0].message})" if skipped else ""
        return f"passed{note}"
    first = failed[0]
    # A hidden test's parameters may hold expected values: name only how many cases failed.
    where = f"; the first: {_params(first.nodeid)}" if first.visible else ""
    case_note = f"{len(failed)} of {len(group)} cases failed{where}\n" if len(group) > 1 else ""
    return f"Hint: {hint}\n{case_note}{first.message}".strip()


def _params(nodeid: str) -> str:
    return nodeid[nodeid.index("[") :] if "[" in nodeid else nodeid.rsplit("::", 1)[-1]
