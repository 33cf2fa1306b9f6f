"""The fresh-install check: the bundle installs with the student's one command and its pytest runs (and fails)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class InstallCheck:
    ok: bool = False
    message: str = ""
    exit_code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    output: str = ""


def check_install(archive: Path, scratch: Path | None = None, keep: bool = False) -> InstallCheck:
    """Unzip the bundle into a fresh venv, `pip install -e` it, run `pytest`: it must run and fail.

    PyTorch goes in first, at this machine's version (with uv where present: it reuses its
    cache), as a student's would already be; then the student's one command installs the rest
    (pip's own resolver and build isolation, as on their laptop). Never --system-site-packages.
    """
    scratch = Path(tempfile.mkdtemp(prefix="release-check-")) if scratch is None else scratch
    check = InstallCheck()
    try:
        folder = _unzip_one_folder(archive, scratch / "unzipped")
        venv = scratch / "venv"
        python = venv / "bin" / "python"
        steps = [
            ("venv", _venv_command(venv), scratch),
            ("torch", _torch_command(python), scratch),
            ("pip install -e", [str(python), "-m", "pip", "install", "-q", "-e", str(folder)], scratch),
            ("pytest", [str(python), "-m", "pytest", "-q", f"--junitxml={scratch / 'junit.xml'}"], folder),
        ]
        for name, command, cwd in steps:
            finished = _timed(check, name, command, cwd)
            if name != "pytest" and finished.returncode != 0:
                check.message = f"`{name}` failed (exit {finished.returncode})"
                check.output = (finished.stdout + finished.stderr)[-4000:]
                return check
        _judge(check, finished, scratch / "junit.xml")
        return check
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _unzip_one_folder(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    (folder,) = [p for p in target.iterdir() if p.is_dir()]
    return folder


def _venv_command(venv: Path) -> list[str]:
    """A new venv with pip in it and nothing else (uv makes the same, in a second instead of ten)."""
    uv = shutil.which("uv")
    if uv is None:
        return [sys.executable, "-m", "venv", str(venv)]
    return [uv, "venv", "-q", "--seed", "--python", sys.executable, str(venv)]


def _torch_command(python: Path) -> list[str]:
    spec = "torch==" + importlib.metadata.version("torch").split("+")[0]
    uv = shutil.which("uv")
    if uv is None:
        return [str(python), "-m", "pip", "install", "-q", spec]
    links = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True).stdout.split()
    return [uv, "pip", "install", "-q", "--python", str(python), *[a for d in links for a in ("--find-links", d)], spec]


def _timed(check: InstallCheck, name: str, command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # A clean environment: nothing of this project's interpreter or pytest run may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "HYPOTHESIS"))}
    started = time.monotonic()
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    check.seconds[name] = round(time.monotonic() - started, 1)
    return finished


def _judge(check: InstallCheck, finished: subprocess.CompletedProcess, junit: Path) -> None:
    """Stubs must fail: pytest's exit 1 (tests failed), some tests run, none erroring."""
    check.exit_code = finished.returncode
    check.output = (finished.stdout + finished.stderr)[-4000:]
    if junit.exists():
        suite = ElementTree.parse(junit).getroot()
        suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
        check.counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        check.counts["passed"] = check.counts["tests"] - check.counts["failures"] - check.counts["errors"] - check.counts["skipped"]
    if finished.returncode != 1:
        check.message = f"pytest exited {finished.returncode}, not 1 (tests ran and failed): the suite did not run as it should"
    elif not check.counts.get("tests") or check.counts.get("errors"):
        check.message = f"pytest ran {check.counts.get('tests', 0)} tests with {check.counts.get('errors', 0)} errors: expected tests that fail, none erroring"
    else:
        check.ok = True
        check.message = f"the public suite ran in a fresh venv: {check.counts['failures']} failed, {check.counts['passed']} passed, {check.counts['skipped']} skipped (stubs should fail)"
