"""scripts/gpu_check.sh, the GPU half prepared for a device machine, in its CPU dry run.

One real `--cpu` run (about a minute on 2 cores: one problem, one example graded, two
copies for throughput) serves the checks below: every step ran, the CUDA-only figures
say "skipped: no CUDA", the figures it could take are sane, and OUT holds few files (the
device tool returns at most 8). A GPU run is the same script without --cpu.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tarfile

import pytest

from grader.core import rubric

from grader.core.machine import isolation_level
from seam import REPO_ROOT

_spec = importlib.util.spec_from_file_location("gpu_check", REPO_ROOT / "scripts" / "gpu_check.py")
gpu_check = sys.modules.setdefault("gpu_check", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(gpu_check)  # (registered first: its dataclass looks itself up there)

pytestmark = [
    pytest.mark.project,
    pytest.mark.e2e,
    pytest.mark.slow,  # the dry run: about a minute on 2 cores
    pytest.mark.xdist_group("gpu-check"),  # one worker runs the dry run once
    pytest.mark.timeout(300),
    pytest.mark.skipif(isolation_level() == "none", reason="the dry run grades through the sandbox"),
]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The real script, --cpu: (exit status, printed text, OUT's figures.json, OUT)."""
    out = tmp_path_factory.mktemp("gpu-out")
    finished = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--cpu"], cwd=REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, "OUT": str(out), "PYTHON": sys.executable}, timeout=280,  # the interpreter running the tests, not PATH's python3
    )
    return finished.returncode, finished.stdout + finished.stderr, json.loads((out / "figures.json").read_text()), out


def test_dry_run_passes_every_step_and_prints_the_table_last(dry_run):
    """Exit 0, no FAILED row, and the printed output ends with the figures table."""
    code, text, _, _ = dry_run
    assert code == 0, text[-3000:]
    assert "FAILED" not in text
    table = text.strip().splitlines()
    assert table[-1].startswith("| throughput, 2 local worker(s) |"), table[-3:]
    assert "| figure | value | target / note |" in text


def test_cuda_only_figures_say_skipped_no_cuda(dry_run):
    """Without CUDA, the MFU ratios, the mutant and the placement checks are skipped, said plainly."""
    _, text, figures, _ = dry_run
    assert figures["cuda"] is False
    for figure in ("measured_mfu / torch.matmul, bfloat16", "measured_mfu / torch.matmul, float32", "mutant flops_time_matmul_no_sync", "device placement on cuda"):
        assert f"| {figure} | skipped: no CUDA |" in text, figure


def test_the_steps_it_can_run_on_cpu_give_sane_figures(dry_run):
    """Suites pass on the reference, the correct example scores all, the no-sync mutant is not caught on CPU."""
    _, _, figures, _ = dry_run
    for suite in ("suite_public", "suite_hidden"):
        assert figures[suite]["exit"] == 0 and figures[suite]["passed"] > 0 and figures[suite]["failed"] == 0
    assert figures["suite_hidden"]["cuda"]["skipped"] > 0  # the device fixture's cuda cases exist, and skip here
    points = f"{round(rubric.load().only([gpu_check.QUICKEST]).total, 4):g}"
    assert figures["examples"]["scores"]["correct"].startswith(f"{points}/{points} ")
    assert figures["mutant"]["status"] == "NOT caught"  # time_matmul without sync is only wrong on CUDA
    assert figures["mfu_bfloat16"]["ratio"] > 0 and figures["mfu_float32"]["torch_tflops"] > 0
    assert 0.3 < figures["isolation"]["ratio"] < 5
    assert [row["workers"] for row in figures["throughput"]] == [2] and figures["throughput"][0]["per_minute"] > 0


def test_out_holds_few_files_the_results_file_and_the_graded_examples(dry_run):
    """OUT: at most 8 plain files (what the device tool returns); results.json of the example inside the tarball."""
    _, _, _, out = dry_run
    files = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert len(files) <= 8 and {"steps.log", "figures.json", "gpu-results.md", "grading.tar.gz"} <= set(files), files
    with tarfile.open(out / "grading.tar.gz") as archive:
        assert "grading/correct/results.json" in archive.getnames()
    assert "CPU dry run (not figures)" in (out / "gpu-results.md").read_text()


def test_a_spent_budget_skips_the_remaining_steps(tmp_path):
    """With no time left, each step is skipped with a message instead of overrunning the device's limit."""
    code = gpu_check.main(["--cpu", "--budget", "0", "--out", str(tmp_path)])
    text = (tmp_path / "gpu-results.md").read_text()
    assert code == 0
    for step in gpu_check.STEPS:
        assert f"| {step.__name__} | skipped: out of time budget |" in text


def test_write_results_prepends_the_newest_section(tmp_path, monkeypatch):
    """bench/gpu-results.md keeps earlier runs, newest first, under one header."""
    monkeypatch.setattr(gpu_check, "REPO_ROOT", tmp_path)
    (tmp_path / "bench").mkdir()
    gpu_check.write_results("## first\n")
    target = gpu_check.write_results("## second\n")
    text = target.read_text()
    assert text.count("# GPU results") == 1 and text.index("## second") < text.index("## first")


def test_cuda_cases_are_told_from_their_ids():
    """The `device` fixture's cuda parametrisation, alone or among other parameters."""
    assert gpu_check._is_cuda_case("tests/hidden/test_x.py::test_y[cuda]")
    assert gpu_check._is_cuda_case("tests/hidden/test_x.py::test_y[cuda-float32]")
    assert gpu_check._is_cuda_case("tests/hidden/test_x.py::test_y[a-cuda]")
    assert not gpu_check._is_cuda_case("tests/hidden/test_x.py::test_y[cpu]")
    assert not gpu_check._is_cuda_case("tests/hidden/test_cudagraph.py::test_y[cpu]")


def test_placement_tests_cover_outputs_optimizer_state_and_batches():
    """The suites' tests that look at where tensors live, found from their source: all three kinds."""
    names = {key.split("::")[-1] for key in gpu_check._placement_tests()}
    assert "test_linear_and_cruncher_honour_device_and_dtype" in names  # outputs
    assert "test_adamw_matches_reference" in names  # optimizer state (state_devices)
    assert "test_get_batch_shapes_dtype_device" in names  # batches
    assert all(key.startswith(("tests/public/", "tests/hidden/")) for key in gpu_check._placement_tests())
