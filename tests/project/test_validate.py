"""`python -m grader validate`: the suites' soundness report, on one problem to stay fast.

One real run of the command over QUICKEST (grader/core/suites.py: the reference, the stubs, a
sample of its mutants and a planted mutant that changes only a comment, in parallel) serves the
checks below. The mutmut run takes about 1.5 minutes on tensors on 2 cores, too slow for CI: it
runs only with GRADER_SLOW=1.
"""

import json
import os
import subprocess
import sys

import pytest

from grader.core import variants
from grader.core.suites import QUICKEST
from grader.staff.qa import mutation, validate

from grader.core import rubric
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("validate"), pytest.mark.timeout(600)]

# Changes a comment only: no test can tell, so validate must report it as NOT losing points.
PLANTED = variants.Variant(
    name=f"{QUICKEST}_planted_noop",
    module=QUICKEST,
    description="rewords a comment: a mutant that changes nothing",
    find="    # as `x.view(..., num_heads, -1)` does.",
    replace="    # (a reworded comment)",
)
# The command's mechanics on a sample: test_suites.py holds every CI mutant to its own problem already.
SAMPLED_MUTANTS = [m.name for m in variants.load_mutants() if m.module == QUICKEST and m.extra.get("ci", True)][:3]


# In a fresh process: in a long-lived test process, ast.parse can raise "SystemError: AST constructor
# recursion depth mismatch" after a deep recursion elsewhere (a CPython 3.11 bug).
WITH_PLANTED = """
import sys
from grader import cli
from grader.core import variants
from tests.project.test_validate import PLANTED, QUICKEST, SAMPLED_MUTANTS
real = variants.load_mutants
variants.load_mutants = lambda: [m for m in real() if m.name in SAMPLED_MUTANTS or m.module != QUICKEST] + [PLANTED]  # a sample; --only must drop the rest
sys.exit(cli.main(["validate", "--only", QUICKEST, "--out", sys.argv[1]]))
"""


@pytest.fixture(scope="module")
def quickest_run(tmp_path_factory):
    """The real command on QUICKEST, with the planted mutant added to the data: (exit status, JSON, markdown)."""
    out = tmp_path_factory.mktemp("validate")
    finished = subprocess.run([sys.executable, "-c", WITH_PLANTED, str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=580)
    assert (out / "validate.json").exists(), finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished.returncode, json.loads((out / "validate.json").read_text()), (out / "validate.md").read_text()


def test_the_planted_mutant_changes_a_line_of_the_reference():
    """The planted mutant's line is in the reference (else it would build nothing and prove nothing)."""
    assert PLANTED.find in (REPO_ROOT / "solutions" / f"{QUICKEST}.py").read_text()


def test_reference_earns_all_of_its_points_and_stubs_none(quickest_run):
    """The report gives the reference 100% of the problem's points and the untouched stubs 0."""
    the_rubric = rubric.load()
    points = sum(v for k, v in the_rubric.points.items() if the_rubric.problem_of[k] == QUICKEST)
    _, report, _ = quickest_run
    assert report["modules"] == [QUICKEST]
    assert report["reference"]["earned"] == pytest.approx(report["reference"]["max_score"]) == pytest.approx(points)
    assert report["reference"]["ok"] and not report["reference"]["wrong"]
    assert report["stubs"]["earned"] == 0 and report["stubs"]["max_score"] == pytest.approx(points)
    assert report["stubs"]["ok"]


def test_every_sampled_mutant_is_caught_in_its_problem_only(quickest_run):
    """Each sampled real mutant loses points, all in its problem; no mutant of another problem runs."""
    _, report, _ = quickest_run
    by_name = {m["name"]: m for m in report["mutants"]}
    assert set(by_name) == set(SAMPLED_MUTANTS) | {PLANTED.name}
    for name in SAMPLED_MUTANTS:
        assert by_name[name]["status"] == "caught", by_name[name]
        assert set(by_name[name]["lost"]) == {QUICKEST} and by_name[name]["lost"][QUICKEST] > 0


def test_a_mutant_that_loses_nothing_fails_the_validation(quickest_run):
    """The planted no-op mutant is reported as NOT caught, and the command exits non-zero."""
    status, report, markdown = quickest_run
    planted = next(m for m in report["mutants"] if m["name"] == PLANTED.name)
    assert planted["status"] == "NOT caught" and planted["lost"] == {}
    assert status == 1 and report["ok"] is False
    assert "# Suite validation: FAILED" in markdown
    assert f"| {PLANTED.name} | {QUICKEST} | NOT caught | none |" in markdown


def test_cuda_only_mutants_are_skipped_without_cuda_and_say_so():
    """Without CUDA a cuda_only mutant is not run, and the report says why (it does not fail the release)."""
    cuda_only = next(m for m in variants.load_mutants() if m.cuda_only)
    check = validate.check_mutant(cuda_only, cuda=False)
    assert check.status == "skipped" and check.ok and "CUDA" in check.note


def test_mutmut_settings_mutate_a_copy_and_keep_the_reference_untouched():
    """The scratch [tool.mutmut] mutates assignment/ (the copy) only and tests it against solutions/."""
    import tomllib

    config = tomllib.loads(mutation.mutmut_config(["tensors", "flops"]))["tool"]["mutmut"]
    assert config["only_mutate"] == ["assignment/tensors.py", "assignment/flops.py"]
    assert config["also_copy"] == ["solutions/", "seam/"] and "--impl=." in config["pytest_add_cli_args"]
    assert config["pytest_add_cli_args_test_selection"][-2:] == ["-m", "tensors or flops"]


@pytest.mark.skipif(os.environ.get("GRADER_SLOW") != "1", reason="mutmut over tensors takes ~1.5 min: set GRADER_SLOW=1")
def test_mutation_run_over_tensors_kills_most_mutants_and_locates_survivors():
    """mutmut over tensors: most mutants killed, and each survivor points at a real line of solutions/tensors.py."""
    run = mutation.run(["tensors"], workers=os.cpu_count() or 1)
    assert not run.error, run.error
    assert run.total >= 50 and run.kill_rate >= 0.8, (run.killed, run.total)
    assert len(run.survivors) == run.counts.get("survived", 0)
    lines = (REPO_ROOT / "solutions" / "tensors.py").read_text().splitlines()
    for survivor in run.survivors:
        assert survivor.file == "solutions/tensors.py"
        assert lines[survivor.line - 1].strip() == survivor.before, survivor
