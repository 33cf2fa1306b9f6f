"""The behavioural leak check: can a function of the bundle stand in for an API function?

The probe (leak_probe.py) runs the bundle's own code (never a student's) in a child process,
in a scratch copy of the bundle, with the reference beside it as a submission.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.staff.release.bundling import SKIP
from grader.staff.release.leak_check import Leak
from seam import REPO_ROOT

PROBE = Path(__file__).with_name("leak_probe.py")
BEHAVIOUR_KINDS = ("passes-public-tests", "computes-answers", "behaviour-check")


def find_behaviour_leaks(bundle: Path, repo: Path = REPO_ROOT, timeout: float = 900) -> tuple[list[Leak], dict]:
    """Every function or class of `bundle` that passes an API function's public tests in its
    place, or gives the reference's answers to them (see leak_probe.py); and the probe's figures.

    The probe runs the bundle's own code (never a student's) in a child process, in a scratch
    copy, with the reference beside it as a submission: nothing here imports the bundle.
    """
    with tempfile.TemporaryDirectory(prefix="release-probe-") as scratch:
        scratch = Path(scratch)
        copy = scratch / "bundle"
        shutil.copytree(bundle, copy, ignore=SKIP)
        shutil.copytree(repo / "solutions", scratch / "reference" / "assignment", ignore=SKIP)
        report = scratch / "report.json"
        run_probe = f"import runpy; runpy.run_path({str(PROBE)!r}, run_name='__main__')"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "HYPOTHESIS"))}
        try:
            finished = subprocess.run([sys.executable, "-c", run_probe, str(scratch / "reference"), str(report)],
                                      cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [Leak("behaviour-check", "(the bundle)", f"the probe ran past {timeout:.0f} s: nothing was checked")], {}
        if finished.returncode != 0 or not report.exists():
            tail = (finished.stdout + finished.stderr)[-2000:]
            return [Leak("behaviour-check", "(the bundle)", f"the probe failed (exit {finished.returncode}): {tail}")], {}
        found = json.loads(report.read_text())
    return [_behaviour_leak(leak) for leak in found["leaks"]], found


def _behaviour_leak(found: dict) -> Leak:
    target, tests = found["target"], len(found["tests"])
    passing = f"in place of {target} it passes that function's {tests} public test(s)"
    if found["how"] == "answers":
        detail = (f"gives the reference's answers of {target} on its {found['calls']} recorded calls from the public "
                  "tests (up to the type of the result)")
        detail += f", and {passing}" if found["passes"] else ": it computes what the students must"
        return Leak("computes-answers", found["candidate"], detail)
    return Leak("passes-public-tests", found["candidate"], passing)
