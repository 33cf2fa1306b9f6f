"""Staff tooling: the similarity report, an HTML page and a CSV of every pair found.

The page shows the clusters (three or more submissions linked by pairs above the threshold),
the most similar pairs with each module's similarity, and, for the top pairs' modules, the two
sources side by side with the lines their shared fingerprints cover marked. Sources, names and
file contents are the students': the template is autoescaped.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.core.student_text import distinct_names
from grader.staff.similarity import similarity
from grader.staff.report.grades_csv import csv_cell
from grader.staff.similarity.similarity import Pair, Submission

TEMPLATES = Path(__file__).parent.parent / "templates"


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    marked: bool


@dataclass(frozen=True)
class SideBySide:
    pair: Pair
    a: str
    b: str
    left: list[Line]
    right: list[Line]


def write_report(submissions: list[Submission], pairs: list[Pair], out: Path, top: int, threshold: float) -> Path:
    """Write out/similarity.html and out/pairs.csv; return the page's path. Names show as staff
    outputs show them (student_text.distinct_names: escaped, look-alikes told apart)."""
    shown = distinct_names([s.name for s in submissions])
    submissions = [dataclasses.replace(s, name=shown[s.name]) for s in submissions]
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(submissions, pairs, out / "pairs.csv")
    best = sorted(similarity.pair_scores(pairs).values(), key=lambda p: (-p.similarity, p.a, p.b))[:top]
    per_module = {}
    for pair in pairs:
        per_module.setdefault((pair.a, pair.b), {})[pair.module] = pair.similarity
    page = _environment().get_template("similarity.html.j2").render(
        submissions=submissions,
        references=sum(s.reference for s in submissions),
        best=best,
        per_module=per_module,
        modules=similarity.MODULES,
        clusters=[[submissions[i].name for i in group] for group in similarity.clusters(pairs, threshold)],
        threshold=threshold,
        sides=[side_by_side(submissions, pair) for pair in best],
        settings={"k": similarity.K, "window": similarity.WINDOW},
        not_compared=[(s.name, "; ".join(s.not_compared)) for s in submissions if s.not_compared],
    )
    path = out / "similarity.html"
    path.write_text(page)
    return path


def side_by_side(submissions: list[Submission], pair: Pair) -> SideBySide:
    a, b = submissions[pair.a], submissions[pair.b]
    source_a, source_b = a.modules[pair.module], b.modules[pair.module]
    boilerplate = set(similarity.fingerprints(similarity._stub_source(pair.module)).hashes.tolist())
    marked_a, marked_b = similarity.matching_lines(source_a, source_b, boilerplate)
    return SideBySide(pair, a.name, b.name, _lines(source_a, marked_a), _lines(source_b, marked_b))


def _lines(source: str, marked: set[int]) -> list[Line]:
    return [Line(n, text, n in marked) for n, text in enumerate(source.splitlines(), start=1)]


def _write_csv(submissions: list[Submission], pairs: list[Pair], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["a", "b", "module", "similarity", "coverage", "shared_fingerprints", "b_is_reference"])
        for pair in pairs:
            a, b = submissions[pair.a], submissions[pair.b]
            if a.reference:  # the earlier term's submission goes second
                a, b = b, a
            writer.writerow([csv_cell(a.name), csv_cell(b.name), pair.module, f"{pair.similarity:.3f}", f"{pair.coverage:.3f}", pair.shared, int(b.reference)])


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html.j2"]))
    env.filters["percent"] = lambda value: f"{100 * value:.0f}%"
    return env
