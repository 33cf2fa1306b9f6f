"""Trusted side: grade one submission, end to end.

    unpack (folder or .zip)  ->  start the sandbox  ->  run the public and hidden suites
    here, with `impl` answered by the sandbox  ->  score by the rubric  ->  results.json

Only this process decides pass or fail. Student code runs in the sandbox's worker.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from grader import phases, results, rubric
from grader.sandbox import Limits, RemoteImpl, Sandbox, layers_for
from grader.selfcheck import suite_paths
from tests.seam import REPO_ROOT

# pytest, the plugin, the suites and the reference are loaded in _run_pytest, after the
# sandbox has forked its zygote from this process: what is in memory then, the zygote has.

MAX_ZIP_BYTES = 64 * 2**20


class BadSubmission(ValueError):
    """A submission the grader cannot read: it scores 0 with this message."""


def locate(submission: Path, scratch: Path) -> Path:
    """The folder that holds the submission's `assignment/` (a .zip is unpacked first)."""
    if submission.is_file() and zipfile.is_zipfile(submission):
        submission = _unzip(submission, scratch / "unzipped")
    if not submission.is_dir():
        raise BadSubmission(f"{submission} is neither a folder nor a .zip")
    if (submission / "assignment").is_dir():
        return submission
    inner = [p for p in submission.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    if len(inner) == 1 and (inner[0] / "assignment").is_dir():
        return inner[0]
    raise BadSubmission("no assignment/ folder at the top of the submission or inside its one top-level folder")


def _unzip(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        total = 0
        for info in zipped.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise BadSubmission(f"the .zip holds an unsafe path: {info.filename}")
            if stat.S_ISLNK(info.external_attr >> 16):
                continue  # links could point at the grader's files; they are not extracted
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise BadSubmission(f"the .zip unpacks to over {MAX_ZIP_BYTES} bytes")
            if info.is_dir():
                continue
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)
    return target


def grade_one(
    submission: Path, out_file: Path, limits: Limits, allow_weak: bool = False, modules: list[str] | None = None
) -> dict:
    """Grade one submission (only `modules`' problems, when given); write and return its results.json."""
    started = time.monotonic()
    phases.mark("grade start")
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        try:
            folder = locate(submission, Path(scratch))
        except (BadSubmission, zipfile.BadZipFile, OSError) as error:
            data = _unreadable(rubric.load().only(modules), str(error), time.monotonic() - started)
            results.write_atomically(out_file, data)
            return data
        sandbox = Sandbox(folder, limits, allow_weak=allow_weak, problems=modules)
        sandbox.start()
        phases.mark("sandbox started")
        try:
            the_rubric = rubric.load().only(modules)
            cases, log, cuda = _run_pytest(RemoteImpl(sandbox), modules)
            phases.mark("pytest done")
            scores = rubric.score(the_rubric, cases)
            phases.mark("scored")
        finally:
            sandbox.close()
            phases.mark("sandbox closed")
        extra = {
            "integrity_flags": sandbox.flags,
            "sandbox": {"level": sandbox.level, "layers": layers_for(sandbox.level)},
            "cuda": cuda,
            "submission_sha256": results.submission_digest(folder),
            "pytest_log_tail": log[-2000:],
        }
        summary = _summary(sandbox, scores)
    data = results.build(the_rubric, scores, seconds=time.monotonic() - started, summary=summary, extra=extra)
    results.write_atomically(out_file, data)
    phases.mark("results written")
    return data


def _run_pytest(impl: RemoteImpl, modules: list[str] | None) -> tuple[list, str, bool]:
    """Run the suites here with `impl` as the implementation; the cases, pytest's log, CUDA or not."""
    import pytest
    import torch

    from grader.plugin import GradingPlugin

    plugin = GradingPlugin(impl)
    args = [
        *(str(REPO_ROOT / path) for path in suite_paths(modules)),
        *(["-m", " or ".join(modules)] if modules else []),
        f"--rootdir={REPO_ROOT}",
        "-c", str(REPO_ROOT / "pyproject.toml"),
        "--hypothesis-profile=grading",
        "-p", "no:cacheprovider",
        "-p", "no:xdist",  # the plugin and the sandbox live in this process
        "-o", "timeout=0",  # the sandbox enforces the time limits
        "-q", "--no-header", "-rN", "--tb=short",
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = pytest.main(args, plugins=[plugin, *([phases] if phases.PATH else [])])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(f"the suites did not run (pytest exit {code!r}):\n{buffer.getvalue()[-4000:]}")
    return list(plugin.cases.values()), buffer.getvalue(), torch.cuda.is_available()


def _summary(sandbox: Sandbox, scores) -> str:
    earned = sum(s.score for s in scores)
    total = sum(s.max_score for s in scores)
    lines = [f"Score: {earned:g} / {total:g}", f"Sandbox: {sandbox.level} ({', '.join(layers_for(sandbox.level))})"]
    skipped = [s for s in scores if s.status == "skipped"]
    if skipped:
        lines.append(f"{len(skipped)} test(s) skipped (no CUDA device): they count neither way.")
    output = sandbox.output().strip()
    if output:
        lines += ["", "What your code printed (first 64 KiB):", output]
    return "\n".join(lines)


def _unreadable(the_rubric, message: str, seconds: float) -> dict:
    scores = [
        rubric.TestScore(key, the_rubric.problem_of[key], 0.0, points, "failed", f"not graded: {message}", key.startswith("public/"), 0.0)
        for key, points in the_rubric.points.items()
    ]
    return results.build(the_rubric, scores, seconds=seconds, summary=f"The submission could not be read: {message}", extra={"integrity_flags": [], "error": message})


def main(argv: list[str]) -> int:
    """`python -m grader.grade SUBMISSION OUT_FILE LIMITS_JSON ALLOW_WEAK [MODULE,...]`: for subprocesses."""
    submission, out_file, limits_json, allow_weak, *only = argv
    modules = only[0].split(",") if only and only[0] else None
    data = grade_one(Path(submission), Path(out_file), Limits(**json.loads(limits_json)), allow_weak == "1", modules)
    print(json.dumps({"score": data["score"], "max_score": data["max_score"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
