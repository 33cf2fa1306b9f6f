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
MAX_BYTES = 2**20  # `python -m submit` writes a few hundred bytes
MAX_NESTING = 64  # ... one object of one object: anything deeper is not a manifest (json recurses per bracket)


def manifest_flags(folder: Path) -> list[dict]:
    """Integrity flags for each difference between `folder`'s manifest and its assignment/*.py.

    Never raises: a manifest that defeats the check (however) is itself the one flag, and the
    grade goes on."""
    try:
        return _manifest_flags(folder)
    except Exception as error:  # noqa: BLE001 (the student's file: any failure is theirs, never the grade's)
        return [_flag(f"the manifest could not be checked ({type(error).__name__})")]


def _manifest_flags(folder: Path) -> list[dict]:
    path = folder / MANIFEST
    if not path.is_file() or path.is_symlink():
        return []
    try:
        text = path.read_bytes()[:MAX_BYTES]
        if _nesting(text) > MAX_NESTING:
            raise ValueError(f"nested over {MAX_NESTING} deep")
        digests = json.loads(text)["sha256"]
        if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
            raise TypeError("sha256 is not a table of digests")
    except (ValueError, KeyError, TypeError, RecursionError) as error:
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


def _nesting(text: bytes) -> int:
    """How deep brackets nest (strings' brackets counted too: an over-estimate is only a refusal)."""
    depth = deepest = 0
    for byte in text.translate(None, delete=bytes(b for b in range(256) if b not in b"[]{}")):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _flag(detail: str) -> dict:
    return {"kind": "manifest-mismatch", "detail": detail, "test": None}
