"""Misconception hints: right on held-out slips, never on correct code, and shown as the course says.

Hints come from the replies a submission gave to the suites (grader/core/replies.py). Here: a sample of
the held-out slips (tests/data/slips/) gets right hints and correct code none, the library names each
mutant by its own hint, hidden hints stay out of results.json, and end to end through the sandbox a
slip's hint reaches its feedback while the hint attacks (tests/data/hostile.toml) name nothing.
"""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from grader.core.machine import isolation_level
from grader.core import hints, probes, variants
from grader.staff.course import hint_policy
from grader.staff.qa import hints_check
from grader.core.variants import load_mutants
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.timeout(600)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

# A sample of the held-out slips, one per problem where the suites run fast, and two correct variants:
# CI re-measures these; `python -m grader.staff.qa.hints_check [--fresh]` measures every slip (README).
SAMPLE = {"strides_contiguous_counts_size1", "tensors_epsilon_half"}
CORRECT_SAMPLE = 1
NO_CANARY = ["--skip-canary"]  # the canary has its own tests (test_walls, test_cli_outcomes)


def test_a_sample_of_held_out_slips_get_the_right_hint_and_correct_code_none():
    cases = [c for c in hints_check.load_cases("held-out") if c.variant.name in SAMPLE]
    cases += [c for c in hints_check.load_cases("held-out") if c.correct][:CORRECT_SAMPLE]
    assert len(cases) == len(SAMPLE) + CORRECT_SAMPLE
    for case, (given, _, _) in zip(cases, hints_check.graded_cases(cases)):
        assert hints_check.verdict(case, given) in ("specific", "family", "correct"), (case.variant.name, given)


@pytest.mark.parametrize("problem", ["strides"])
def test_the_library_names_each_mutant_by_its_own_hint_or_says_nothing_wrong(problem):
    """Each mutant taken as a submission, on the requests the suites make: its own hint, a family or
    nothing (a slip the suites' requests cannot show), never another mutant's hint."""
    found = hints_check.graded_hints("solutions", problem, library=True)
    assert found, problem
    wrong = {name: given for name, given in found.items() if any(g != name and not g.startswith("family:") for g in given)}
    assert not wrong, wrong
    named = sum(1 for name, given in found.items() if name in given)
    assert named >= 0.8 * len(found), found


def test_the_stubs_and_the_reference_get_no_hint():
    stubs, reference = hints_check.graded_hints_of_each([(REPO_ROOT, "strides"), ("solutions", "strides")])
    assert stubs == []  # assignment/: every function raises NotImplementedError
    assert reference == []


def test_fresh_process_and_timing_drivers_are_never_compared():
    """A fresh-process driver is fed the submission's own state_dict or checkpoint (its key names, its
    format): the reference and the mutants need not read it, so its answers would refute every mutant."""
    assert probes.comparable("tests.drivers.optimizers:run_optimizer")
    assert not probes.comparable("tests.drivers.optimizers:continue_optimizer")
    assert not probes.comparable("tests.drivers.training:checkpoint_load")
    assert not probes.comparable(next(iter(probes.NONDETERMINISTIC)))


def test_hidden_hints_keep_only_a_key_and_staff_tools_resolve_it():
    mutant = next(m for m in load_mutants() if m.extra.get("hint"))
    hidden = {"problem": mutant.module, "slip": mutant.name, "text": mutant.extra["hint"].strip(), "visibility": "hidden"}
    public = {**hidden, "visibility": "public"}
    redacted = hints.redact([public, hidden])
    assert redacted[0] == public and set(redacted[1]) == {"problem", "visibility", "key"}
    assert mutant.name not in json.dumps(redacted[1]) and hidden["text"] not in json.dumps(redacted[1])
    assert hints.resolve(redacted[1]) == hidden


def test_where_hints_show(tmp_path):
    public, hidden = {"visibility": "public"}, {"visibility": "hidden"}
    deadline = datetime(2025, 10, 14, tzinfo=timezone.utc)
    before, after = deadline - timedelta(days=1), deadline + timedelta(days=1)
    default = hint_policy.HintPolicy()
    assert default.shows(public, before) and not default.shows(hidden, after)
    assert not hint_policy.HintPolicy("never").shows(public, after)
    assert hint_policy.HintPolicy("all").shows(hidden, before)
    config = tmp_path / "course.toml"
    config.write_text('[late]\ndeadline = "2025-10-14T00:00:00+00:00"\npenalty_per_day = 10\nmax_days = 3\n'
                      '[hints]\nhidden_after_deadline = true\n')
    policy = hint_policy.load_policy(config)
    assert policy.shows(public, before) and not policy.shows(hidden, before) and policy.shows(hidden, after)
    assert hint_policy.shown({"extra_data": {"hints": [public, hidden]}}, policy, before) == [public]
    config.write_text('[hints]\nshow = "sometimes"\n')
    with pytest.raises(ValueError):
        hint_policy.load_policy(config)


@needs_sandbox
def test_a_slip_graded_in_the_sandbox_gets_its_hint_in_the_feedback(tmp_path):
    slip = next(c for c in hints_check.load_cases() if c.variant.name == "strides_contiguous_counts_size1")
    expect = slip.expect[0]
    submission = slip.variant.build(tmp_path / "ada")
    out, report = tmp_path / "graded", tmp_path / "report"
    grade = [sys.executable, "-m", "grader", "grade", str(submission), "--out", str(out), "--only", "strides", "--jobs", "1", *NO_CANARY]
    subprocess.run(grade, cwd=REPO_ROOT, check=True, capture_output=True)
    given = json.loads((out / "ada" / "results.json").read_text())["extra_data"]["hints"]
    assert [(h["problem"], h["slip"], h["visibility"]) for h in given] == [("strides", expect, "public")]
    text = given[0]["text"]
    subprocess.run([sys.executable, "-m", "grader", "report", str(report), "--gradebook", str(out / "gradebook.sqlite")],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    assert text in (report / "feedback" / "ada.md").read_text() and text in (report / "feedback" / "ada.html").read_text()
    row = f'<td><a href="feedback/ada.html">ada</a></td><td>strides</td><td>{expect}</td><td>{text}</td><td>yes</td>'
    assert row in (report / "report.html").read_text()  # the class report lists each student's hints
    assert f"[ada](feedback/ada.md) | strides | `{expect}` | yes |" in (report / "report.md").read_text()
    never = tmp_path / "course.toml"
    never.write_text('[hints]\nshow = "never"\n')
    subprocess.run([sys.executable, "-m", "grader", "report", str(report), "--gradebook", str(out / "gradebook.sqlite"),
                    "--config", str(never)], cwd=REPO_ROOT, check=True, capture_output=True)
    assert text not in (report / "feedback" / "ada.md").read_text()
    assert row.replace("<td>yes</td>", "<td>no (public test)</td>") in (report / "report.html").read_text()


HINT_ATTACKS = [v for v in variants.load_hostile() if "no_hint" in v.extra or "hidden_hint" in v.extra]


@needs_sandbox
@pytest.mark.parametrize("variant", HINT_ATTACKS, ids=lambda v: v.name)
def test_hint_attacks_name_nothing_the_code_does_not_do(variant, tmp_path):
    """Issue 17: a submission cannot choose its hint (recognising the probes), and a slip only hidden
    tests catch keeps its hint hidden (its text out of results.json) when a public test fails on purpose."""
    folder = variant.build(tmp_path / "student")
    out = tmp_path / "graded"
    grade = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out), "--only", variant.module, "--jobs", "1", *NO_CANARY]
    subprocess.run(grade, cwd=REPO_ROOT, check=True, capture_output=True)
    results = json.loads((out / "student" / "results.json").read_text())
    staff = json.loads((out / "student" / "results.staff.json").read_text())
    given = results["extra_data"]["hints"]
    named = {h.get("slip") for h in given}
    for slip in variant.extra.get("no_hint", []):
        assert slip not in named, f"{variant.name}: the grader named {slip}, a slip the code does not make"
        assert slip not in json.dumps(staff), f"{variant.name}: staff were told {slip}"
    for slip in variant.extra.get("hidden_hint", []):
        text = next(m.extra["hint"] for m in load_mutants() if m.name == slip).strip()
        assert text not in json.dumps(results), f"{variant.name}: the hidden slip's hint text reached results.json"
        assert [h["visibility"] for h in given if h.get("slip") == slip] in ([], ["hidden"])
        assert any(h["slip"] == slip and h["visibility"] == "hidden" for h in staff.get("hints", [])), f"{variant.name}: staff lost the hint"
