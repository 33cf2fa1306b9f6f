"""End to end through the sandbox: real submissions graded as `python -m grader grade` grades them
(a grading process forked per submission by the grading service, grader/core/service.py).

The reference earns full marks (twice, identically), the stubs nothing, and every hostile
or faulty variant of the correct example (tests/data/hostile.toml) is contained: it loses
exactly the problems it broke, keeps every point it earned honestly, gains none, and the
attempts the sandbox stopped are recorded as integrity flags.
"""

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from grader.core import flags, integrity, results, rubric

from grader.core import variants
from grader.commands.grade import grade_in_subprocess
from grader.core.limits import Limits
from grader.core.machine import isolation_level
from grader.staff.report.feedback import EXAMPLE_HEADER
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [
    pytest.mark.project,
    pytest.mark.e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces"),
]

# Short limits: the hanging variants should cost seconds, not minutes.
LIMITS = Limits(call_seconds=8, test_seconds=30, submission_seconds=300)
HOSTILE = variants.load_hostile()
# CI grades this set (every attack and fault the grader promises to contain);
# GRADER_ALL_VARIANTS=1 (and `python -m grader validate`) grades all of them.
CORE = {
    "cheat_import_solutions", "cheat_read_reference_from_disk", "exfiltrate_hidden_tests",
    "write_fake_results_json", "print_fake_gradescope_json", "patch_torch_allclose",
    "patch_assert_close", "patch_unittest_asserts", "patch_builtins_wrappers", "unsafe_result_reduce",
    "exit_at_import", "os_exit_in_call", "network_connect_external", "infinite_loop_view",
    "segfault_in_call", "memory_bomb_torch", "fork_bomb", "exception_at_import", "syntax_error_module",
    "print_50mb",
    # monitors switched off and derivations delegated out of sight: the static source rules
    "tamper_disable_torch_function_named_dims", "tamper_patch_recorder_module_named_dims", "tamper_replace_functions_via_gc",
    # what the worker says about itself (issue 17)
    "flag_kind_carries_hidden_inputs", "import_error_named_like_the_graders", "flag_flood", "read_grader_command_line",
}
SELECTED = HOSTILE if os.environ.get("GRADER_ALL_VARIANTS") else [v for v in HOSTILE if v.name in CORE]
SELECTED = [v for v in SELECTED if "control" not in v.extra]  # forges: test_forge_earns_no_more_than_its_control
# Forges of our drivers (issue 17), each measured against the same code without the trick.
FORGES = [v for v in HOSTILE if "control" in v.extra]
CORE_FORGES = {"forge_drivers_from_oracles_training", "forge_same_value_twice_optimizers", "forge_calls_reply"}
SELECTED_FORGES = FORGES if os.environ.get("GRADER_ALL_VARIANTS") else [v for v in FORGES if v.name in CORE_FORGES]


# For a test of what feedback shows, not of time limits: under load, a problem's share of LIMITS
# (1/8 of 300 s) could run out while hypothesis shrank, and "Falsifying example" never came.
UNHURRIED = dataclasses.replace(LIMITS, test_seconds=120, submission_seconds=1200)


@pytest.fixture(scope="module")
def reference_submission(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reference")
    variants.reference_into(folder)
    return folder


def test_the_core_set_names_real_variants():
    assert CORE <= {v.name for v in HOSTILE}
    assert CORE_FORGES <= {v.name for v in FORGES}
    known = {v.name for v in HOSTILE + variants.load_mutants()} | {"stubs"}
    assert {v.extra["control"] for v in FORGES} <= known


# Graded again on their own: the problems whose drivers draw seeds (initialisation, batches, steps).
REGRADED = ["model", "training"]


def test_reference_scores_full_marks_and_a_regrade_gives_the_same_verdicts(graded, reference_submission, tmp_path):
    """The reference earns 100; grading two of its problems again, alone, gives their tests
    byte-identical scores, statuses and outputs: a verdict depends neither on the run nor on
    what ran before it (hypothesis derandomised, every driver seeded, no state across problems)."""
    first = graded(reference_submission, tmp_path / "a", None, LIMITS)
    second = graded(reference_submission, tmp_path / "b", REGRADED, LIMITS)
    assert first["score"] == first["max_score"] == rubric.load().test_points, [t["name"] for t in first["tests"] if t["score"] < t["max_score"]]
    assert first["extra_data"]["integrity_flags"] == []

    def verdicts(data):
        return [(t["name"], t["score"], t["status"], t["output"]) for t in data["tests"] if t["tags"][0] in REGRADED]

    assert verdicts(second) and verdicts(first) == verdicts(second)


def test_untouched_stubs_score_zero(graded, tmp_path):
    """The stubs as released earn nothing through the grader either."""
    data = graded(REPO_ROOT, tmp_path, None, LIMITS)
    assert data["score"] == 0 and data["max_score"] == rubric.load().test_points
    assert all("not implemented" in t["output"].lower() or "notimplemented" in t["output"].lower() for t in data["tests"] if t["status"] == "failed")


@pytest.mark.parametrize("variant", SELECTED, ids=lambda v: v.name)
def test_hostile_submission_is_contained_and_flagged(graded, variant, tmp_path):
    """An attack or fault costs the problems it broke and nothing else, earns nothing, and is flagged."""
    folder = variant.build(tmp_path / variant.name)
    data = graded(folder, tmp_path / "out", variants.affected_problems(variant), variants.limits_for(variant, LIMITS))
    problems = results.per_problem(data)
    for module, (score, max_score) in problems.items():
        if module in variant.expect_lost:
            assert score < max_score, f"{variant.name}: {module} kept full marks ({score}/{max_score}) despite the attack"
        else:
            lost = [t["name"] + ": " + t["output"][:300] for t in data["tests"] if t["tags"] == [module] and t["score"] < t["max_score"]]
            assert score == max_score, f"{variant.name}: {module} lost points it earned honestly: {lost}"
    kinds = {flag["kind"] for flag in data["extra_data"]["integrity_flags"]}
    assert set(variant.expect_flags) <= kinds, f"{variant.name}: flags {sorted(kinds)}, expected at least {variant.expect_flags}"
    assert_nothing_of_the_hidden_tests_shows(variant, tmp_path / "out" / "results.json")


def assert_nothing_of_the_hidden_tests_shows(variant, out: Path) -> None:
    """results.json and the staff file are under 1 MiB; in results.json, a hidden test's flag is
    its kind and "hidden test N" only, and the variant's marker shows nowhere but in what the
    public tests are allowed to show (their outputs and flags: the student's own inputs)."""
    for path in (out, results.staff_file(out)):
        assert path.stat().st_size < 2**20, f"{variant.name}: {path.name} is {path.stat().st_size} bytes"
    data = json.loads(out.read_text())
    public_flags = [f for f in data["extra_data"]["integrity_flags"] if str(f["test"]).startswith("tests/public/")]
    for flag in data["extra_data"]["integrity_flags"]:
        assert flag["kind"] in flags.KINDS, flag
        if flag not in public_flags and flag["test"] is not None:  # a hidden test's: never its id, nor a detail
            assert re.fullmatch(r"hidden test \d+ \(\w+\)", flag["test"]) and flag["detail"] == flags.HIDDEN_DETAIL, flag
    marker = variant.extra.get("must_not_show")
    if marker:
        hidden_part = {
            "tests": [t for t in data["tests"] if t["visibility"] != "visible"],
            "flags": [f for f in data["extra_data"]["integrity_flags"] if f not in public_flags],
            "extra": {k: v for k, v in data["extra_data"].items() if k != "integrity_flags"},
        }
        assert marker not in json.dumps(hidden_part), f"{variant.name}: {marker} reached results.json from a hidden test"


@pytest.mark.parametrize("level", ["userns", "none"])
def test_weaker_machines_refuse_or_say_which_layers_were_active(level, reference_submission, tmp_path, monkeypatch):
    """Without root (user namespaces) or without namespaces at all, results name the layers;
    with no namespaces the grader refuses unless told --allow-weak-sandbox. (A process of its
    own, `python -m grader.core.grade`: the level is set in its environment.)"""
    monkeypatch.setenv("GRADER_ISOLATION", level)
    out = tmp_path / "results.json"
    if level == "none":
        refused = grade_in_subprocess(reference_submission, out, LIMITS, allow_weak=False, modules=[QUICKEST])
        assert not refused["ok"] and "--allow-weak-sandbox" in refused["error"]
    outcome = grade_in_subprocess(reference_submission, out, LIMITS, allow_weak=True, modules=[QUICKEST])
    assert outcome["ok"], outcome.get("error")
    data = outcome["results"]
    assert data["extra_data"]["sandbox"]["level"] == level
    assert ("netns" in data["extra_data"]["sandbox"]["layers"]) == (level != "none")
    assert data["score"] == data["max_score"] > 0


def test_feedback_shows_inputs_for_visible_tests_and_no_values_for_hidden(graded, tmp_path):
    """A failing public test shows hypothesis's smallest failing input; a hidden one only its hint."""
    mutant = next(m for m in variants.load_mutants() if m.name == "strides_is_contiguous_checks_size1")
    data = graded(mutant.build(tmp_path / "mutant"), tmp_path / "out", ["strides"], UNHURRIED)
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    visible = [t for t in failed if t["visibility"] == "visible"]
    hidden = [t for t in failed if t["visibility"] != "visible"]
    assert visible and hidden, f"{mutant.name} should fail public and hidden strides tests"
    assert any(EXAMPLE_HEADER.search(t["output"]) and "layout=" in t["output"] for t in visible)
    for test in hidden:
        assert test["output"].startswith("Hint: "), test["output"]
        for leak in ("Falsifying", "Failing example", "Failing explicit example", "assert", "expected", "Expected", "=="):
            assert leak not in test["output"].split("\n", 1)[1], test["output"]


@pytest.fixture(scope="module")
def control_scores(graded, tmp_path_factory):
    """Per control name, its score per problem (graded once, shared by the forges that name it)."""
    known: dict[tuple, dict] = {}

    def scores(name: str, problems: list[str]) -> dict:
        if name == "stubs":  # the untouched stubs earn nothing (test_untouched_stubs_score_zero)
            return {problem: 0.0 for problem in problems}
        key = (name, tuple(problems))
        if key not in known:
            control = next(v for v in HOSTILE + variants.load_mutants() if v.name == name)
            folder = tmp_path_factory.mktemp(name)
            data = graded(control.build(folder / "submission"), folder / "out", problems, LIMITS)
            known[key] = {problem: score for problem, (score, _) in results.per_problem(data).items()}
        return known[key]

    return scores


@pytest.mark.parametrize("variant", SELECTED_FORGES, ids=lambda v: v.name)
def test_forge_earns_no_more_than_its_control(graded, variant, control_scores, tmp_path):
    """Code that finds our drivers in the worker and rewrites them (from oracles it finds there, or
    to return one value twice) scores no more, in any problem, than the same code without the trick
    (under the course's [integrity] policy the variant names, "flag" by default), and is flagged."""
    problems = variants.affected_problems(variant)
    data = integrity.hold(graded(variant.build(tmp_path / variant.name), tmp_path / "out", problems, LIMITS), variant.extra.get("policy", "flag"))
    kinds = {flag["kind"] for flag in data["extra_data"]["integrity_flags"]}
    assert set(variant.expect_flags) <= kinds, f"{variant.name}: flags {sorted(kinds)}, expected at least {variant.expect_flags}"
    control = control_scores(variant.extra["control"], problems)
    for problem, (score, _) in results.per_problem(data).items():
        gained = [t["name"] for t in data["tests"] if t["tags"] == [problem] and t["score"] > 0]
        assert score <= control[problem] + 1e-9, (
            f"{variant.name}: {problem} {score} > {control[problem]} without the forge; it scored in {gained}")
