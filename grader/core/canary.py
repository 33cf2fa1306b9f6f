"""Trusted side: before a batch, prove that the sandbox's workers can run the reference.

A machine where the workers cannot start (a Python folder the jail cannot bind, a kernel
that refuses a wall, a broken install) would otherwise grade every student 0. The canary
grades the reference through the sandbox on one fast problem, exactly as a student is
graded; anything short of full marks stops the batch with the cause.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from grader.core.limits import Limits
from grader.core.machine import WORK_BASE, SandboxUnavailable
from grader.core.service import GradingService, ServiceDown
from grader.core.suites import QUICKEST
from seam import REPO_ROOT

CANARY_PROBLEM = QUICKEST  # the fastest problem through the sandbox: the canary costs every batch ~2 s, not ~4.5


def check_sandbox_works(limits: Limits, allow_weak: bool, service: GradingService | None = None) -> None:
    """Return if the reference earns full marks through the sandbox; raise SandboxUnavailable if not.

    `service`: the batch's grading service (the canary is then its first job); None: a service of its own.
    """
    WORK_BASE.mkdir(parents=True, exist_ok=True, mode=0o711)
    with tempfile.TemporaryDirectory(prefix="canary-", dir=WORK_BASE) as scratch, _service(service) as grading:
        submission = Path(scratch) / "reference"
        shutil.copytree(REPO_ROOT / "solutions", submission / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
        outcome = grading.grade(submission, Path(scratch) / "results.json", limits, allow_weak, [CANARY_PROBLEM])
    if not outcome["ok"]:
        raise SandboxUnavailable(f"the sandbox could not grade the reference (canary): {outcome['error'].strip()[-1500:]}")
    data = outcome["results"]
    if data["score"] != data["max_score"]:
        failed = next(t for t in data["tests"] if t["score"] < t["max_score"])
        raise SandboxUnavailable(
            f"the reference scored {data['score']:g}/{data['max_score']:g} through the sandbox (canary, "
            f"problem {CANARY_PROBLEM}): the workers cannot run here. First failure, {failed['name']}:\n{failed['output'][:1500]}"
        )


@contextlib.contextmanager
def _service(service: GradingService | None):
    if service is not None:
        yield service
        return
    try:
        with GradingService(problems=[CANARY_PROBLEM]) as own:
            yield own
    except ServiceDown as error:
        raise SandboxUnavailable(f"the grading service could not start: {error}") from None
