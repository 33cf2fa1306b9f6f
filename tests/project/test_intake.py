"""The submission as delivered is hostile input: grader/core/intake.py reads it, nothing else does.

No link is followed anywhere (the submission, its one inner folder, `assignment`, a file),
no named pipe or device is read, and files, entries, bytes, depth and time are bounded.
A refusal is that student's 0 with a clear message (and a flag where it looks deliberate);
the rest of the class is graded as usual, and quickly.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from grader.staff.grading import batch

from grader.core import intake
from grader.core.machine import isolation_level
from seam import REPO_ROOT
from grader.core.suites import QUICKEST

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.timeout(300)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

CORRECT = REPO_ROOT / "examples" / "submissions" / "correct"
SOLUTIONS = REPO_ROOT / "solutions"


def honest(folder: Path) -> Path:
    shutil.copytree(CORRECT / "assignment", folder / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def finishes_within(seconds: float, function, *args):
    """function(*args), failing (not hanging) if it blocks longer than `seconds`."""
    outcome: dict = {}

    def call():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__} still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def refusal(submission: Path, tmp_path: Path) -> intake.BadSubmission:
    with pytest.raises(intake.BadSubmission) as refused:
        finishes_within(10, intake.stage, submission, tmp_path / "scratch")
    return refused.value


# --- links -------------------------------------------------------------------------------


def test_assignment_as_a_link_to_the_reference_is_refused_and_flagged(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "assignment").symlink_to(SOLUTIONS)
    error = refusal(tmp_path / "sub", tmp_path)
    assert error.flag == "link" and "symbolic link" in str(error)


def test_the_one_inner_folder_as_a_link_is_refused_and_flagged(tmp_path):
    honest(tmp_path / "elsewhere")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hw").symlink_to(tmp_path / "elsewhere")
    error = refusal(tmp_path / "sub", tmp_path)
    assert error.flag == "link" and "hw" in str(error)


def test_the_submission_itself_as_a_link_is_refused(tmp_path):
    (tmp_path / "sub").symlink_to(honest(tmp_path / "real"))
    assert refusal(tmp_path / "sub", tmp_path).flag == "link"


def test_a_file_link_inside_assignment_is_neither_followed_nor_copied_but_flagged(tmp_path):
    sub = honest(tmp_path / "sub")
    (sub / "assignment" / "strides.py").unlink()
    (sub / "assignment" / "strides.py").symlink_to(SOLUTIONS / "strides.py")
    (sub / "assignment" / "zero").symlink_to("/dev/zero")
    staged = finishes_within(10, intake.stage, sub, tmp_path / "scratch")
    copied = {p.name for p in (staged.folder / "assignment").iterdir()}
    assert "strides.py" not in copied and "zero" not in copied and "tensors.py" in copied
    assert {f["kind"] for f in staged.flags} == {"link"} and len(staged.flags) == 2
    assert all(not p.is_symlink() for p in staged.folder.rglob("*"))


# --- special files and bounds ----------------------------------------------------------------


def test_a_named_pipe_neither_blocks_the_digest_nor_is_read(tmp_path):
    sub = honest(tmp_path / "sub")
    os.mkfifo(sub / "assignment" / "pipe.py")
    error = refusal(sub, tmp_path)
    assert error.flag == "special-file" and "named pipe" in str(error)
    digest = finishes_within(10, batch.fingerprint, sub)
    assert digest.startswith("unreadable-")


def test_a_device_node_is_refused_without_being_opened(tmp_path):
    sub = honest(tmp_path / "sub")
    try:
        os.mknod(sub / "assignment" / "zero", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers
    except PermissionError:
        pytest.skip("making a device node needs root")
    assert refusal(sub, tmp_path).flag == "special-file"


def test_too_many_files_too_deep_or_too_big_are_refused(tmp_path):
    many = honest(tmp_path / "many")
    for i in range(intake.MAX_ENTRIES + 1):
        (many / "assignment" / f"f{i}.txt").touch()
    assert "over" in str(refusal(many, tmp_path / "a"))
    deep = honest(tmp_path / "deep")
    folder = deep / "assignment"
    for _ in range(intake.MAX_DEPTH + 2):
        folder = folder / "d"
    folder.mkdir(parents=True)
    assert "deep" in str(refusal(deep, tmp_path / "b"))
    big = honest(tmp_path / "big")
    (big / "assignment" / "data.bin").write_bytes(b"\0" * (intake.MAX_FILE_BYTES + 1))
    assert "MiB" in str(refusal(big, tmp_path / "c"))


def test_a_zip_of_100000_empty_entries_is_refused_fast(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((CORRECT / "assignment").glob("*.py")):
            zipped.write(path, f"assignment/{path.name}")
        for i in range(100_000):
            zipped.writestr(f"junk/{i}", b"")
    started = time.monotonic()
    error = refusal(archive, tmp_path)
    assert time.monotonic() - started < 1.0 and "entries" in str(error) and error.flag == "bad-submission"


def test_a_zip_bomb_is_refused_without_trusting_the_sizes_it_claims(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("assignment/tensors.py", b"\0" * (intake.MAX_FILE_BYTES + 1))
    assert archive.stat().st_size < 100_000 and "MiB" in str(refusal(archive, tmp_path))


def test_a_zip_symlink_entry_is_not_extracted(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((CORRECT / "assignment").glob("*.py")):
            zipped.write(path, f"hw/assignment/{path.name}")
        link = zipfile.ZipInfo("hw/assignment/reference.py")
        link.external_attr = (0o120777) << 16
        zipped.writestr(link, str(SOLUTIONS / "strides.py"))
    staged = intake.stage(archive, tmp_path / "scratch")
    assert not (staged.folder / "assignment" / "reference.py").exists()
    assert (staged.folder / "assignment" / "tensors.py").is_file() and staged.flags[0]["kind"] == "link"


def test_gradescope_layouts_loose_files_and_a_lone_zip(tmp_path):
    loose = tmp_path / "loose"
    shutil.copytree(CORRECT / "assignment", loose, ignore=shutil.ignore_patterns("__pycache__"))
    staged = intake.stage(loose, tmp_path / "a")
    assert {p.name for p in (staged.folder / "assignment").glob("*.py")} == {p.name for p in loose.glob("*.py")}
    lone = tmp_path / "lone"
    lone.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("assignment/tensors.py", "x = 1\n")
    (lone / "upload.zip").write_bytes(buffer.getvalue())
    assert (intake.stage(lone, tmp_path / "b").folder / "assignment" / "tensors.py").read_text() == "x = 1\n"


# --- end to end ----------------------------------------------------------------------------


@needs_sandbox
def test_one_hostile_student_costs_only_themselves_and_seconds(tmp_path):
    """A class with a linked-reference student, a named-pipe student and an honest one."""
    klass = tmp_path / "class"
    honest(klass / "honest")
    (klass / "linked").mkdir()
    (klass / "linked" / "assignment").symlink_to(SOLUTIONS)
    os.mkfifo(honest(klass / "piped") / "assignment" / "tensors_data")
    out = tmp_path / "out"
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(klass), "--out", str(out), "--only", QUICKEST, "--skip-canary", "--jobs", "2",
         "--call-timeout", "8", "--test-timeout", "30"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240,
    )
    took = time.monotonic() - started
    assert finished.returncode == 0, finished.stdout + finished.stderr
    verdicts = {s: json.loads((out / s / "results.json").read_text()) for s in ("honest", "linked", "piped")}
    assert verdicts["honest"]["score"] == verdicts["honest"]["max_score"] > 0
    for student, flag in (("linked", "link"), ("piped", "special-file")):
        data = verdicts[student]
        assert data["score"] == 0 and "could not be read" in data["output"], (student, data["output"])
        assert flag in {f["kind"] for f in data["extra_data"]["integrity_flags"]}, student
    assert took < 120, f"the batch took {took:.0f} s"


def test_gradescope_upload_with_assignment_linked_to_the_reference_scores_zero(tmp_path):
    """Through the Gradescope entry point: refused before any sandbox, with the link flag."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "assignment").symlink_to(SOLUTIONS)
    env = {**os.environ, "GRADER_ONLY": "tensors", "GRADER_ALLOW_WEAK": "1"}
    finished = subprocess.run([sys.executable, "-m", "grader.staff.grading.gradescope", str(root)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "link" in {f["kind"] for f in data["extra_data"]["integrity_flags"]}


# --- what the student sees ----------------------------------------------------------------


@needs_sandbox
def test_what_the_code_prints_during_hidden_tests_and_pytests_log_are_for_staff_only(grading_service, tmp_path):
    """results.json (the student's) shows output of the public tests only; the rest goes to results.staff.json."""
    from grader.core import variants
    from grader.core.limits import Limits

    variant = next(v for v in variants.load_hostile() if v.name == "print_hidden_inputs")
    out = tmp_path / "out" / "results.json"
    outcome = grading_service.grade(variant.build(tmp_path / "s"), out, Limits(call_seconds=8, test_seconds=30), False, ["tensors"])
    assert outcome["ok"], outcome.get("error")
    visible = out.read_text()
    assert outcome["results"]["score"] == outcome["results"]["max_score"] > 0
    public, hidden = "NUM-BYTES-INPUT (4, 8) torch.float32", "NUM-BYTES-INPUT (3, 0, 2) torch.float64"  # a public case, a hidden @example
    assert public in visible, "output printed during public tests stays visible"
    assert hidden not in visible and "pytest_log_tail" not in visible
    staff = json.loads((out.parent / "results.staff.json").read_text())
    assert hidden in staff["output_from_the_first_hidden_test_on"]
    assert "passed" in staff["pytest_log_tail"]


def test_rays_archive_is_the_staged_copy_and_carries_its_flags(tmp_path):
    from grader.staff.grading.executors import pack

    sub = honest(tmp_path / "sub")
    (sub / "assignment" / "reference.py").symlink_to(SOLUTIONS / "strides.py")
    archive, flags = pack(sub)
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        names = zipped.namelist()
    assert "assignment/tensors.py" in names and not any("reference" in n for n in names)
    assert [f["kind"] for f in flags] == ["link"]
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "assignment").symlink_to(SOLUTIONS)
    with pytest.raises(intake.BadSubmission):
        pack(tmp_path / "linked")


@needs_sandbox
def test_a_hidden_tests_feedback_carries_no_text_or_number_the_code_chose(grading_service, tmp_path):
    """An exception's message or an exit status in a hidden test could spell out its inputs: neither is shown."""
    from grader.core import variants
    from grader.core.limits import Limits

    variant = next(v for v in variants.load_hostile() if v.name == "raise_hidden_inputs")
    out = tmp_path / "out" / "results.json"
    outcome = grading_service.grade(variant.build(tmp_path / "s"), out, Limits(call_seconds=8, test_seconds=30), False, ["tensors"])
    assert outcome["ok"], outcome.get("error")
    hidden = [t for t in outcome["results"]["tests"] if t["visibility"] != "visible" and t["status"] == "failed"]
    assert hidden, "the variant fails hidden tests"
    visible = out.read_text()
    assert "LEAKED-INPUT" not in visible and "status 10" not in visible, [t["output"] for t in hidden]
    assert any("raised ValueError" in t["output"] for t in hidden) and any("ended" in t["output"] for t in hidden)
    staff = (out.parent / "results.staff.json").read_text()
    assert "status 10" in staff, "staff still read what the flags say"


def test_the_submit_manifest_is_staged_beside_assignment_from_a_folder_or_a_zip(tmp_path):
    from grader.core.manifest import MANIFEST

    sub = honest(tmp_path / "hw")
    (sub / MANIFEST).write_text('{"sha256": {}}')
    assert (intake.stage(sub, tmp_path / "a").folder / MANIFEST).read_text() == '{"sha256": {}}'
    archive = Path(shutil.make_archive(str(tmp_path / "hw"), "zip", tmp_path, "hw"))
    assert (intake.stage(archive, tmp_path / "b").folder / MANIFEST).read_text() == '{"sha256": {}}'
    (sub / MANIFEST).unlink()
    (sub / MANIFEST).symlink_to("/dev/zero")
    assert not (intake.stage(sub, tmp_path / "c").folder / MANIFEST).exists()
