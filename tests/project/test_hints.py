"""Misconception hints: right on held-out slips, never on correct code, and shown as the course says.

The held-out figures come from grader/staff/hints_check.py (tests/data/slips/): zero wrong hints is
asserted; the share of right hints is asserted to stay above a floor and printed (`-s`).
One end-to-end test grades a slip through the sandbox and reads its feedback.
"""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from grader.staff import hints, hints_check
from grader.core.sandbox import isolation_level
from grader.staff.variants import load_mutants
from tests.seam import MODULES, REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.timeout(600)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

RIGHT_SHARE_FLOOR = 0.9  # measured 34 of 35 (97%) when the set was written


def test_held_out_slips_get_the_right_hint_and_correct_code_none():
    figures = hints_check.measure()
    print(f"\nhints on held-out slips: {figures.right}/{figures.described} right ({figures.share:.0%}), "
          f"{len(figures.wrong)} wrong, {figures.undescribed} undescribed slips, {figures.correct} correct variants")
    assert figures.described >= 20 and figures.correct >= 3
    assert figures.wrong == [], f"wrong hints: {figures.wrong}"
    assert figures.share >= RIGHT_SHARE_FLOOR, [row for row in figures.rows if row[2] != [row[1]]]


def test_every_mutant_the_probes_can_see_is_named_by_its_own_hint():
    seen = 0
    for mutant in (m for m in load_mutants() if not m.cuda_only):
        outcomes = hints.outcomes_of_variant(mutant, mutant.module)
        reference = hints.reference_outcomes(mutant.module)
        if all(hints.same(a, b) for a, b in zip(outcomes, reference)):
            continue  # a slip fixed probes cannot show (timing, memory use, the einsum-only rule)
        seen += 1
        assert hints.explain(mutant.module, outcomes) == [mutant.name]
    assert seen >= 45  # 48 of the 52 CPU mutants when the probes were written


def test_the_stubs_and_the_reference_get_no_hint():
    for problem in MODULES:
        stubs = hints.outcomes_of_folder(REPO_ROOT, problem)  # assignment/: every function raises NotImplementedError
        assert all(o.kind == "fault" for o in stubs), problem
        assert hints.explain(problem, stubs) == []
        assert hints.explain(problem, list(hints.reference_outcomes(problem))) == []


def test_where_hints_show(tmp_path):
    public, hidden = {"visibility": "public"}, {"visibility": "hidden"}
    deadline = datetime(2025, 10, 14, tzinfo=timezone.utc)
    before, after = deadline - timedelta(days=1), deadline + timedelta(days=1)
    default = hints.HintPolicy()
    assert default.shows(public, before) and not default.shows(hidden, after)
    assert not hints.HintPolicy("never").shows(public, after)
    assert hints.HintPolicy("all").shows(hidden, before)
    config = tmp_path / "course.toml"
    config.write_text('[late]\ndeadline = "2025-10-14T00:00:00+00:00"\npenalty_per_day = 10\nmax_days = 3\n'
                      '[hints]\nhidden_after_deadline = true\n')
    policy = hints.load_policy(config)
    assert policy.shows(public, before) and not policy.shows(hidden, before) and policy.shows(hidden, after)
    assert hints.shown({"extra_data": {"hints": [public, hidden]}}, policy, before) == [public]
    config.write_text('[hints]\nshow = "sometimes"\n')
    with pytest.raises(ValueError):
        hints.load_policy(config)


@needs_sandbox
def test_a_slip_graded_in_the_sandbox_gets_its_hint_in_the_feedback(tmp_path):
    slip = next(c for c in hints_check.load_cases() if c.variant.name == "strides_contiguous_counts_size1")
    submission = slip.variant.build(tmp_path / "ada")
    out, report = tmp_path / "graded", tmp_path / "report"
    grade = [sys.executable, "-m", "grader", "grade", str(submission), "--out", str(out), "--only", "strides", "--jobs", "1"]
    subprocess.run(grade, cwd=REPO_ROOT, check=True, capture_output=True)
    given = json.loads((out / "ada" / "results.json").read_text())["extra_data"]["hints"]
    assert [(h["problem"], h["slip"], h["visibility"]) for h in given] == [("strides", slip.expect, "public")]
    text = given[0]["text"]
    subprocess.run([sys.executable, "-m", "grader", "report", str(report), "--gradebook", str(out / "gradebook.sqlite")],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    assert text in (report / "feedback" / "ada.md").read_text() and text in (report / "feedback" / "ada.html").read_text()
    row = f'<td><a href="feedback/ada.html">ada</a></td><td>strides</td><td>{slip.expect}</td><td>{text}</td><td>yes</td>'
    assert row in (report / "report.html").read_text()  # the class report lists each student's hints
    assert f"[ada](feedback/ada.md) | strides | `{slip.expect}` | yes |" in (report / "report.md").read_text()
    never = tmp_path / "course.toml"
    never.write_text('[hints]\nshow = "never"\n')
    subprocess.run([sys.executable, "-m", "grader", "report", str(report), "--gradebook", str(out / "gradebook.sqlite"),
                    "--config", str(never)], cwd=REPO_ROOT, check=True, capture_output=True)
    assert text not in (report / "feedback" / "ada.md").read_text()
    assert row.replace("<td>yes</td>", "<td>no (public test)</td>") in (report / "report.html").read_text()
