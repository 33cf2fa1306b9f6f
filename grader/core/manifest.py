"""Trusted side: does a submission hold the files `python -m submit` packed?

The student's submit command writes submission-manifest.json beside assignment/: the sha256 of
each assignment/*.py it packed (and of written.toml, where it packed one). A file changed, added or removed since then is reported as an
integrity flag (`manifest-mismatch`): not proof of anything, but staff should know the grader
did not grade what the student checked. A submission without a manifest gets no flag. The
manifest is the student's (hostile) text: it is parsed as JSON, its names are only compared.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "submission-manifest.json"
WRITTEN = "written.toml"
MAX_FLAGS = 20


def manifest_flags(folder: Path) -> list[dict]:
    """Integrity flags for each difference between `folder`'s manifest and its assignment/*.py."""
    path = folder / MANIFEST
    if not path.is_file() or path.is_symlink():
        return []
    try:
        digests = json.loads(path.read_bytes()[: 2**20])["sha256"]
        if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
            raise TypeError("sha256 is not a table of digests")
    except (ValueError, KeyError, TypeError) as error:
        return [_flag(f"the manifest cannot be read ({type(error).__name__}): the files cannot be checked against it")]
    files = {f"assignment/{p.name}": p for p in sorted((folder / "assignment").glob("*.py")) if p.is_file() and not p.is_symlink()}
    if (folder / WRITTEN).is_file():  # the written part's answers, packed beside assignment/
        files[WRITTEN] = folder / WRITTEN
    problems = [f"{name}: not in the manifest (added after packing)" for name in files if name not in digests]
    for name, digest in digests.items():
        if name not in files:
            problems.append(f"{name[:80]!r}: in the manifest, not in the submission")
        elif hashlib.sha256(files[name].read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: its sha256 differs from the manifest's (changed after packing)")
    return [_flag(problem) for problem in problems[:MAX_FLAGS]]


def _flag(detail: str) -> dict:
    return {"kind": "manifest-mismatch", "detail": detail, "test": None}
