"""Trusted side (staff tooling): Gradescope's autograder.zip, and what runs inside it.

Gradescope unzips autograder.zip into /autograder/source, runs setup.sh once to build its
image, then for each submission runs run_autograder, which calls `python -m grader.staff.grading.gradescope`:

    /autograder/submission  ->  one submission (a folder with assignment/, a .zip, or the
    module files uploaded loose)  ->  grade_one, the same sandbox as `python -m grader grade`
    ->  /autograder/results/results.json

Environment (all optional): AUTOGRADER_ROOT (default /autograder), AUTOGRADER_PYTHON (the
interpreter; default the venv setup.sh made), GRADER_ONLY=tensors,strides (grade only those
problems; "written" is the written part), GRADER_ALLOW_WEAK=1 (grade even where the container
allows no namespaces).

The written part (grader/core/written.py): the napkin numbers are graded here, drawn for the login
that is the submitter's email address before the `@` (Gradescope's submission_metadata.json, which
Gradescope writes outside the student's files) and the term of the course.toml shipped with
`gradescope --config`. The explanations are not in results.json: staff mark them on Gradescope as
a manual question of their own (9 points), so the autograder's maximum is the rest.

Whatever happens, results.json is written: a grader failure is a 0 that says so (Gradescope
shows a run without results.json as an error with nothing to read). Hidden tests are named
there as on the feedback pages ("hidden test N", grader/staff/report/shown_tests.py).

`test_locally` runs the built zip as Gradescope would, in OUT/autograder-test/ (an /autograder
laid out by hand: source/ unzipped, submission/ a copy), with this machine's Python instead of
setup.sh's venv: `python -m grader gradescope OUT --test SUBMISSION`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import traceback
import zipfile
from pathlib import Path

from grader.core import results, written
from grader.staff.course import config
from grader.compat import tomllib
from grader.core.limits import Limits
from grader.core.machine import SandboxUnavailable
from grader.staff.report import shown_tests
from seam import REPO_ROOT

# The whole of tests/ travels, so that results.json's suite_version is the repository's.
SHIPPED = ("grader", "tests", "seam", "solutions", "student", "pyproject.toml")  # student/: the written part's draws and reader
SKIP = ("__pycache__", ".hypothesis", ".pytest_cache")
COURSE = "course.toml"  # `gradescope --config`'s file, at the autograder's root: the written part's term

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
apt-get update
# util-linux gives `unshare`, the sandbox's namespaces; python3-venv the grader's own venv.
apt-get install -y --no-install-recommends python3 python3-venv python3-pip util-linux
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --upgrade pip
# The CPU build of PyTorch: Gradescope's machines have no GPU, and it is far smaller.
"$ROOT/venv/bin/pip" install "torch%(torch_range)s" --index-url https://download.pytorch.org/whl/cpu
"$ROOT/venv/bin/pip" install -r "$ROOT/source/requirements.txt"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade $ROOT/submission in the sandbox,
# write $ROOT/results/results.json. The grader runs from $ROOT/source, never from site-packages.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
export GRADER_ALLOW_WEAK="${GRADER_ALLOW_WEAK:-%(allow_weak)s}"
cd "$ROOT/source"
export PYTHONPATH="$ROOT/source"
exec "$PYTHON" -m grader.staff.grading.gradescope "$ROOT"
"""


# --- building autograder.zip -----------------------------------------------------------------


def build_autograder(archive: Path, allow_weak: bool = False, course_file: Path | None = None) -> Path:
    """Write autograder.zip: setup.sh, run_autograder, requirements.txt and the project's grading side
    (and `course_file` as course.toml: the written part's term)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    torch_range = next(d for d in project["dependencies"] if d.startswith("torch"))[len("torch"):]
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        _add_text(zipped, "setup.sh", SETUP_SH % {"torch_range": torch_range}, executable=True)
        _add_text(zipped, "run_autograder", RUN_AUTOGRADER % {"allow_weak": int(allow_weak)}, executable=True)
        _add_text(zipped, "requirements.txt", "\n".join(project["dependencies"]) + "\n")
        if course_file is not None:
            zipped.write(course_file, COURSE)
        for part in SHIPPED:
            path = REPO_ROOT / part
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file() and not any(s in file.parts for s in SKIP) and file.suffix != ".pyc":
                    zipped.write(file, file.relative_to(REPO_ROOT).as_posix())
    return archive


def _add_text(zipped: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    zipped.writestr(info, text)


# --- inside Gradescope: grade /autograder/submission -----------------------------------------


def run(root: Path) -> int:
    """Grade root/submission into root/results/results.json, which is written whatever happens."""
    out_file = root / "results" / "results.json"
    only = [m for m in os.environ.get("GRADER_ONLY", "").split(",") if m]
    print(f"grader: {Path(__file__).resolve().parent.parent}; problems: {', '.join(only) or 'all'}", flush=True)
    try:
        data = _grade(root, out_file, only)
    except SandboxUnavailable as error:
        # No score without the sandbox: staff see why, and rebuild with --allow-weak-sandbox if they accept that.
        results.write_atomically(out_file, {"score": 0, "output": f"The autograder could not start its sandbox: {error}", "tests": []})
        print(error, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 (whatever one submission does to the grader, Gradescope gets results)
        results.write_atomically(out_file, {
            "score": 0, "tests": [],
            "output": "The autograder failed on this submission (not a grade: the course staff have been told; resubmitting may help).",
        })
        traceback.print_exc()  # stderr: the staff's view of the run, never the student's
        return 1
    results.write_atomically(out_file, shown_tests.for_gradescope(data))
    print(json.dumps({"score": data["score"], "max_score": data["max_score"]}))
    return 0


def _grade(root: Path, out_file: Path, only: list[str]) -> dict:
    """The suites (through the sandbox) and the written part (here) that GRADER_ONLY selects."""
    suites = [m for m in only if m != written.PART]
    login, term = gradescope_login(root), config.load(REPO_ROOT / COURSE if (REPO_ROOT / COURSE).is_file() else None).term
    if only and not suites:  # the written part alone: no sandbox, no student code run
        return written.alone(root / "submission", login, term, manual=False)
    from grader.core.grade import grade_one  # here: building the zip needs neither pytest nor torch

    # grade_one stages the upload through grader/core/intake.py like any submission (no link
    # followed, loose module files and a lone .zip understood); nothing else reads it.
    data = grade_one(root / "submission", out_file, Limits(), os.environ.get("GRADER_ALLOW_WEAK") == "1", suites or None)
    if not only or written.PART in only:
        data = written.add(data, root / "submission", login, term, manual=False)
    return data


def gradescope_login(root: Path) -> str:
    """The login the written part's numbers are drawn for: the first submitter's email before the `@`."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text()).get("users") or [{}]
        return str(users[0].get("email") or "").split("@")[0]
    except (OSError, ValueError, AttributeError, IndexError):
        return ""


# --- testing the bundle here ------------------------------------------------------------------


def test_locally(archive: Path, submission: Path, only: list[str] | None = None) -> tuple[int, Path]:
    """Run `archive` on `submission` as Gradescope would, in archive's folder /autograder-test/;
    (run_autograder's exit status, the results.json it wrote)."""
    root = archive.parent.resolve() / "autograder-test"  # run_autograder runs from inside it: no relative path survives
    shutil.rmtree(root, ignore_errors=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):  # zipfile drops modes; Gradescope keeps them
        os.chmod(root / "source" / script, 0o755)
    if submission.is_dir():
        shutil.copytree(submission, root / "submission", symlinks=True)
    else:
        (root / "submission").mkdir()
        shutil.copy(submission, root / "submission" / submission.name)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable, GRADER_ONLY=",".join(only or []))
    finished = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=environment)
    return finished.returncode, root / "results" / "results.json"


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
