"""`python -m grader similarity`: planted copies rank above independent work, and the report.

The planted class (grader/staff/similarity/similarity_planted.py): the reference, the correct and partial
examples and two more students' own modules, plus copies of them renamed, reordered, with dead
statements, all three, and a student who copied two modules of the reference into their own.
"""

import os
import zipfile
from itertools import combinations
from pathlib import Path

import pytest

from grader.staff.similarity import similarity, similarity_planted
from grader.cli import main as grader_cli
from seam import REPO_ROOT

pytestmark = pytest.mark.project


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return similarity_planted.write_class(tmp_path_factory.mktemp("planted") / "class")


def best_scores(students: list[Path]) -> dict[frozenset, float]:
    submissions = similarity.load_class(students)
    best = similarity.pair_scores(similarity.compare(submissions))
    names = [s.name for s in submissions]
    return {
        frozenset((names[a], names[b])): best[(a, b)].similarity if (a, b) in best else 0.0
        for a, b in combinations(range(len(names)), 2)
    }


def test_every_planted_pair_ranks_above_every_independent_pair(planted):
    students, planted_pairs = planted
    scores = best_scores(students)
    assert len(planted_pairs) >= 6 and len(scores) - len(planted_pairs) >= 30, "the planted class is smaller than meant"
    lowest_planted = min(scores[p] for p in planted_pairs)
    highest_independent = max(v for p, v in scores.items() if p not in planted_pairs)
    worst = min(planted_pairs, key=scores.get)
    assert lowest_planted > highest_independent, (
        f"planted pair {sorted(worst)} scores {lowest_planted:.3f}, not above an independent pair's {highest_independent:.3f}"
    )


def test_two_copied_modules_are_found_in_those_modules(planted):
    students, _ = planted
    submissions = similarity.load_class(students)
    index = {s.name: i for i, s in enumerate(submissions)}
    pair = tuple(sorted((index["reference"], index["copy_two_modules"])))
    modules = {p.module: p.similarity for p in similarity.compare(submissions) if (p.a, p.b) == pair}
    assert min(modules["strides"], modules["optimizers"]) > 0.6, modules
    assert max((v for m, v in modules.items() if m not in ("strides", "optimizers")), default=0.0) < 0.3, modules


def test_untouched_stubs_are_boilerplate(tmp_path):
    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "assignment").mkdir()
        for module in similarity.MODULES:
            (tmp_path / name / "assignment" / f"{module}.py").write_text((REPO_ROOT / "assignment" / f"{module}.py").read_text())
    submissions = similarity.load_class([tmp_path])
    assert [sorted(s.modules) for s in submissions] == [sorted(similarity.MODULES)] * 3
    assert similarity.compare(submissions) == [], "identical stubs must not count as copies"


def test_reading_follows_no_link_and_skips_oversized_files(tmp_path):
    folder = tmp_path / "student" / "assignment"
    folder.mkdir(parents=True)
    os.symlink(REPO_ROOT / "solutions" / "strides.py", folder / "strides.py")
    (folder / "flops.py").write_text("x = 1\n" * (similarity.MAX_MODULE_BYTES // 6 + 1))
    (folder / "tensors.py").write_text("def f():\n    return 1\n")
    assert similarity.read_modules(tmp_path / "student") == {"tensors": "def f():\n    return 1\n"}
    archive = tmp_path / "student.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        link = zipfile.ZipInfo("top/assignment/strides.py")
        link.external_attr = (0o120777 << 16)  # a symbolic link stored in the zip
        zipped.writestr(link, str(REPO_ROOT / "solutions" / "strides.py"))
        zipped.writestr("top/assignment/tensors.py", "def f():\n    return 1\n")
    assert similarity.read_modules(archive) == {"tensors": "def f():\n    return 1\n"}


def test_earlier_terms_are_compared_with_this_term_only(planted, tmp_path):
    students, _ = planted
    by_name = {s.name: s for s in students}
    current = [by_name["copy_renamed"], by_name["ada"]]
    earlier = [by_name["reference"], by_name["copy_two_modules"]]  # these two are alike too
    submissions = similarity.load_class(current, earlier)
    names = {(submissions[p.a].name, submissions[p.b].name) for p in similarity.compare(submissions)}
    assert ("copy_renamed", "reference") in names
    assert ("reference", "copy_two_modules") not in names and ("copy_two_modules", "reference") not in names


def test_report_marks_matches_shows_clusters_and_escapes_student_text(planted, tmp_path):
    students, _ = planted
    hostile = tmp_path / "class" / "<img src=x onerror=alert(1)>"
    (hostile / "assignment").mkdir(parents=True)
    source = (REPO_ROOT / "solutions" / "strides.py").read_text()
    (hostile / "assignment" / "strides.py").write_text(source + "\nBANNER = '<script>alert(1)</script>'\n")
    out = tmp_path / "report"
    assert grader_cli(["similarity", *map(str, students), str(hostile), "--out", str(out)]) == 0
    page = (out / "similarity.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count('class="hit"') > 100, "the side-by-side view marks no matching lines"
    cluster = page.split("<h2>Clusters", 1)[1].split("</ul>", 1)[0]
    for name in ("reference", "copy_renamed", "copy_two_modules"):
        assert name in cluster, f"{name} is missing from the cluster of copies of the reference"
    rows = (out / "pairs.csv").read_text().splitlines()
    assert rows[0].startswith("a,b,module,similarity") and len(rows) > 10


def test_fingerprints_most_of_the_class_shares_are_ignored(planted, tmp_path):
    """Three of four hand in the same strides.py: that is the assignment's code now, not a copy's."""
    students, _ = planted
    ada = next(s for s in students if s.name == "ada")
    for name in ("one", "two", "three"):
        (tmp_path / name / "assignment").mkdir(parents=True)
        (tmp_path / name / "assignment" / "strides.py").write_text((REPO_ROOT / "solutions" / "strides.py").read_text())
    submissions = similarity.load_class([tmp_path / "one", tmp_path / "two", tmp_path / "three", ada])
    kept = [p for p in similarity.compare(submissions) if p.module == "strides"]
    everything = [p for p in similarity.compare(submissions, common_share=1.0) if p.module == "strides"]
    assert kept == [] and len(everything) == 3 and min(p.similarity for p in everything) == 1.0
