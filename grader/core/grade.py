"""Trusted side: grade one submission, end to end.

    stage (grader/core/intake.py: folder or .zip, read safely)  ->  start the sandbox  ->  run the public and hidden suites
    here, with `impl` answered by the sandbox  ->  score by the rubric  ->  results.json

Only this process decides pass or fail. Student code runs in the sandbox's worker.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import torch

from grader.core import hints
from grader.core.replies import Replies

from grader.core import integrity, intake, leases, phases, results, rubric
from grader.core.intake import BadSubmission
from grader.core.manifest import manifest_flags
from grader.core.machine import SandboxUnavailable, layers_for
from grader.core.remote import RemoteImpl
from grader.core.limits import Limits
from grader.core.sandbox import Sandbox
from grader.core.suites import suite_paths
from seam import MODULES, REPO_ROOT, fast_tracebacks

# pytest, the plugin, the suites and the reference are loaded in _run_pytest, after the
# sandbox has forked its zygote from this process: what is in memory then, the zygote has.


GRADE_PREFIX = "grade-"  # the staged copy's folder, under the temp dir


def grade_one(
    submission: Path, out_file: Path, limits: Limits, allow_weak: bool = False, modules: list[str] | None = None
) -> dict:
    """Grade one submission (only `modules`' problems, when given); write and return its results.json.

    Its staged copy and sandbox folder are removed however the run ends: at the end, at SIGTERM
    or SIGHUP, or (after kill -9) by the next run's sweep.
    """
    started = time.monotonic()
    phases.mark("grade start")
    temp = Path(tempfile.gettempdir())
    leases.sweep(temp, GRADE_PREFIX)  # staged copies of runs killed outright
    with leases.cleaned_up_on_termination():
        scratch = leases.work_folder(temp, GRADE_PREFIX)
        key = leases.at_termination(lambda: leases.remove_folder(scratch))
        try:
            data, staff = _grade_staged(submission, scratch, limits, allow_weak, modules, started)
        finally:
            leases.remove_folder(scratch)
            leases.cancel(key)
    if staff is not None:
        results.write_atomically(results.staff_file(out_file), results.bounded(staff))
    results.write_atomically(out_file, results.bounded(data))
    phases.mark("results written")
    return data


def hint_seed() -> int:
    """Which replies the hints keep (a seeded sample): GRADER_HINT_SEED to repeat a grade's, else fresh."""
    given = os.environ.get("GRADER_HINT_SEED")
    return int(given) if given else secrets.randbits(63)


def _grade_staged(submission: Path, scratch: Path, limits: Limits, allow_weak: bool, modules, started: float) -> tuple[dict, dict | None]:
    """Stage, grade in the sandbox, score: (results.json's data, the staff file's or None)."""
    try:
        staged = intake.stage(submission, scratch)  # all that is read of the submission
    except (BadSubmission, OSError) as error:
        return refused(error, modules, time.monotonic() - started), None
    sandbox = Sandbox(staged.folder, limits, allow_weak=allow_weak, problems=modules)
    sandbox.flags.extend(staged.flags)
    try:
        sandbox.start()
        # The zygote has forked with torch's thread count, which every worker keeps. This process only
        # checks replies and runs the oracles on small tensors, as fast on one thread; with a pool of
        # its own, its OpenMP threads spin after each parallel region while the worker runs the next
        # call on the same cores (bench/isolation.py, 2 cores: sandboxed 21.5 -> 19.7 s, medians of 3).
        torch.set_num_threads(1)
        # What this process held before the suites (torch, the grader: over a million objects) out of
        # its collector again (grader/worker/forking.py; the zygote's fork gave them back): it grades
        # one submission and exits, and hypothesis's first test runs a full collection (0.2 s).
        gc.freeze()
        phases.mark("sandbox started")
        the_rubric = rubric.load().only(modules)
        remote = RemoteImpl(sandbox)
        remote.replies = Replies(seed=hint_seed())  # the submission's answers: the hints' evidence
        cases, log, cuda = _run_pytest(remote, modules)
        phases.mark("pytest done")
        scores = rubric.score(the_rubric, cases)
        phases.mark("scored")
    finally:
        sandbox.close()
        phases.mark("sandbox closed")
    found = hints.hints_for(failed_problems(scores), remote.replies)  # the trusted side: mutants in-process
    phases.mark("hints found")
    sandbox.flags.extend(manifest_flags(staged.folder))  # the staged copy holds the manifest too
    # Read off the staged source on this side: nothing the worker did can hide or forge these.
    source_flags, tamper = integrity.source_flags(sandbox.sources, tuple(modules or MODULES), remote.own_work.breaches())
    sandbox.flags.extend(source_flags)
    extra = {
        # A flag raised in a hidden test shows the student its kind and "hidden test N" only.
        "integrity_flags": sandbox.flags.for_student(results.hidden_test_names(the_rubric, cases)),
        "tamper": tamper,  # problem -> findings: what course.toml's [integrity] tamper = "zero" holds
        "sandbox": {"level": sandbox.level, "layers": layers_for(sandbox.level)},
        "cuda": cuda,
        "submission_sha256": results.submission_digest(staged.folder),
        "hints": hints.redact(found),  # a hidden hint's text only in the staff file
    }
    summary = _summary(sandbox, scores)
    # Hidden tests' inputs reach what the code printed, pytest's log and flags' details: staff only.
    staff = {
        "output_from_the_first_hidden_test_on": sandbox.staff_output(),
        "pytest_log_tail": log[-results.LOG_TAIL_CHARS:],
        "integrity_flags": sandbox.flags.entries(),
        "hints": found,
        "hint_seed": remote.replies.seed,
    }
    data = results.build(the_rubric, scores, seconds=time.monotonic() - started, summary=summary, extra=extra)
    return data, staff


def _run_pytest(impl: RemoteImpl, modules: list[str] | None) -> tuple[list, str, bool]:
    """Run the suites here with `impl` as the implementation; the cases, pytest's log, CUDA or not."""
    import pytest
    import torch

    from grader.core.plugin import GradingPlugin

    progress = os.environ.get("GRADER_PROGRESS_FILE")
    plugin = GradingPlugin(impl, progress=Path(progress) if progress else None)
    args = [
        *(str(REPO_ROOT / path) for path in suite_paths(modules)),
        *(["-m", " or ".join(modules)] if modules else []),
        f"--rootdir={REPO_ROOT}",
        "-c", str(REPO_ROOT / "pyproject.toml"),
        "--hypothesis-profile=grading",
        "-p", "no:cacheprovider",
        "-p", "no:xdist",  # the plugin and the sandbox live in this process
        # Plugins that newer releases of our dependencies register, which grading has no use for.
        # pytest still marks jaxtyping's (>= 0.3) for assertion rewriting and warns that it cannot
        # (the grader imported jaxtyping first, the service earlier than the per-process grader):
        # a warning in the staff log that depends on who imported what, not on the submission.
        "-p", "no:jaxtyping",
        "-p", "no:platformdirs",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "-o", "timeout=0",  # the sandbox enforces the time limits
        "-q", "--no-header", "-rN", "--tb=short",
        # Its clean-up runs gc.collect() five times (~0.4 s with torch loaded) to report unraisable
        # exceptions as warnings; a grade is decided by the reports, which that cannot change.
        "-p", "no:unraisableexception",
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = pytest.main(args, plugins=[plugin, fast_tracebacks, *([phases] if phases.PATH else [])])
    if plugin.grader_failure is not None:  # never a grade: the batch records a grader error and retries
        raise SandboxUnavailable(plugin.grader_failure)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(f"the suites did not run (pytest exit {code!r}):\n{buffer.getvalue()[-4000:]}")
    return list(plugin.cases.values()), buffer.getvalue(), torch.cuda.is_available()


def _summary(sandbox: Sandbox, scores) -> str:
    earned = sum(s.score for s in scores)
    total = sum(s.max_score for s in scores)
    lines = [f"Score: {earned:g} / {total:g}"]  # which sandbox layers ran is for staff: extra_data["sandbox"]
    skipped = [s for s in scores if s.status == "skipped"]
    if skipped:
        lines.append(f"{len(skipped)} test(s) skipped (no CUDA device): they count neither way.")
    output = sandbox.output().strip()
    if output:
        lines += ["", "What your code printed during the public tests (first 64 KiB; what it printed during hidden tests is not shown):", output]
    return "\n".join(lines)


def refused(error: Exception, modules: list[str] | None, seconds: float = 0.0) -> dict:
    """The results of a submission the intake refused (or could not read): 0, its message, its flag."""
    flags = error.flags() if isinstance(error, BadSubmission) else []
    return _unreadable(rubric.load().only(modules), str(error), seconds, flags)


def _unreadable(the_rubric, message: str, seconds: float, flags: list[dict] = ()) -> dict:
    scores = [
        rubric.TestScore(key, the_rubric.problem_of[key], 0.0, points, "failed", f"not graded: {message}", key.startswith("public/"), 0.0)
        for key, points in the_rubric.points.items()
    ]
    return results.build(the_rubric, scores, seconds=seconds, summary=f"The submission could not be read: {message}", extra={"integrity_flags": list(flags), "unreadable": message})


def failed_problems(scores) -> dict[str, str]:
    """problem -> "public" when a public test of it failed, else "hidden" (only for problems that lost
    points): the problems the hints look at, and how far their hints may be shown."""
    failed: dict[str, str] = {}
    for score in scores:
        if score.status == "failed":
            kind = "public" if score.visible else "hidden"
            failed[score.module] = "public" if failed.get(score.module) == "public" else kind
    return failed


def main(argv: list[str]) -> int:
    """`python -m grader.core.grade SUBMISSION OUT_FILE LIMITS_JSON ALLOW_WEAK [MODULE,...]`: for subprocesses."""
    submission, out_file, limits_json, allow_weak, *only = argv
    modules = only[0].split(",") if only and only[0] else None
    data = grade_one(Path(submission), Path(out_file), Limits(**json.loads(limits_json)), allow_weak == "1", modules)
    print(json.dumps({"score": data["score"], "max_score": data["max_score"]}))
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # results.json is written (fsynced) and the sandbox closed: skip the interpreter's teardown of
    # torch, pytest and the suites (~0.6 s of a 10 s grade) that nobody waits for anything from.
    phases.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
