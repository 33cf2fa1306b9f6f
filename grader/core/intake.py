"""Trusted side: read a submission as delivered into a private staged copy, before anything else.

A submission is hostile input to the trusted side long before any sandbox exists: a folder
whose `assignment` is a symbolic link to the reference, a named pipe that blocks whoever
opens it, a link to /dev/zero, a .zip of 100,000 empty entries. So one function, `stage`,
reads it, and everything after (locating assignment/, the digest, the sandbox's copy, Ray's
archive, the source checks) reads only the copy it made:

- no link is followed anywhere on the way (the submission itself, its one inner folder,
  `assignment`, any file): each is looked at with lstat, opened with O_NOFOLLOW relative to
  its folder's descriptor, and checked again with fstat on what was opened;
- only regular files and folders are read; a named pipe, device or socket refuses the
  submission without being opened for long (O_NONBLOCK) or read;
- files, entries, bytes (each and in all), depth and seconds are all bounded.

Layouts (the first that applies): assignment/ at the top; assignment/ inside the one
top-level folder; the module files loose at the top (a Gradescope upload of tensors.py,
strides.py, ...); a folder holding nothing but one .zip (Gradescope's upload of a .zip).
Only the located assignment/ folder, and beside it `python -m submit`'s manifest and the
written part's answers (`written.toml`: a regular file of at most 64 KiB, else left out with the
reason in `Staged.written_problem`), are copied; nothing else of the submission is read.

A .zip is read by intake_zip.py with the same reader and limits.

A refusal is `BadSubmission`: a message the student can act on and, where the submission
looks built to attack the grader (a link, a special file, a bomb), a flag for staff.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.manifest import MANIFEST
from seam import MODULES

WRITTEN = "written.toml"  # the written part's answers, beside assignment/ (grader/core/written.py reads the copy)
MAX_WRITTEN_BYTES = 64 * 2**10
MAX_ENTRIES = 2000  # folder entries looked at, or .zip entries, per submission
MAX_FILE_BYTES = 8 * 2**20
MAX_TOTAL_BYTES = 16 * 2**20  # what is staged: assignment/'s files
MAX_ARCHIVE_BYTES = 64 * 2**20  # the .zip as delivered
MAX_DEPTH = 12
MAX_SECONDS = 20.0
SKIPPED = ("__pycache__", "__MACOSX")  # and every name starting with a dot
LOOSE = {f"{module}.py" for module in (*MODULES, "__init__")}

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class BadSubmission(ValueError):
    """A submission the grader refuses to read: it scores 0 with this message (and maybe a flag)."""

    def __init__(self, message: str, flag: str | None = None):
        super().__init__(message)
        self.flag = flag

    def flags(self) -> list[dict]:
        return [{"kind": self.flag, "detail": str(self), "test": None}] if self.flag else []


@dataclass
class Staged:
    folder: Path  # the private copy: folder/assignment/... (and folder/written.toml)
    flags: list[dict] = field(default_factory=list)  # links skipped: never followed, never copied
    written_problem: str | None = None  # why a written.toml beside assignment/ was left out


def stage(submission: Path, scratch: Path) -> Staged:
    """Copy the submission's assignment/ into scratch/staged; raise BadSubmission if it cannot be read safely."""
    reader = _Reader(scratch / "staged" / "assignment")
    reader.target.mkdir(parents=True)
    try:
        _stage(submission, reader)
    except OSError as error:  # unreadable (permissions, a name the file system refuses...): the student's to fix
        raise BadSubmission(f"{submission.name} cannot be read: {error.strerror or error}") from None
    return Staged(scratch / "staged", reader.flags, reader.written_problem)


def _stage(submission: Path, reader: _Reader) -> None:
    kind = _kind(os.lstat(submission).st_mode)
    if kind == "link":
        raise BadSubmission(f"{submission.name} is a symbolic link; submit the folder or .zip itself", "link")
    if kind == "file" and submission.suffix == ".zip":
        intake_zip.stage_zip(intake_zip.read_archive(None, str(submission)), reader, submission.name)
    elif kind == "dir":
        _stage_folder(submission, reader)
    elif kind == "file":
        raise BadSubmission(f"{submission.name} is neither a folder nor a .zip")
    else:
        raise BadSubmission(f"{submission.name} is a {kind}, not a folder or a .zip", "special-file")


def copy_folder(source: Path, target: Path) -> list[dict]:
    """Copy the regular files under `source` (no link followed) into `target`; the flags raised."""
    reader = _Reader(target)
    target.mkdir(parents=True, exist_ok=True)
    fd = _open_dir(None, str(source), source.name)
    try:
        reader.copy_tree(fd, target, "assignment", 0)
    finally:
        os.close(fd)
    return reader.flags


def unreadable_digest(submission: Path, message: str) -> str:
    """A digest for a refused submission: its message and the names, sizes and times under it (lstat only).

    So the gradebook grades it again once the student's upload changes, without reading a byte of it.
    """
    digest = hashlib.sha256(message.encode())
    pending, seen, deadline = [submission], 0, time.monotonic() + MAX_SECONDS
    while pending and seen < MAX_ENTRIES and time.monotonic() < deadline:
        path = pending.pop()
        try:
            info = os.lstat(path)
            digest.update(f"{path.relative_to(submission)}:{info.st_mode}:{info.st_size}:{info.st_mtime_ns}".encode())
            if stat.S_ISDIR(info.st_mode):
                with os.scandir(path) as entries:
                    pending += sorted(Path(e.path) for e in itertools.islice(entries, MAX_ENTRIES))
        except OSError:
            pass
        seen += 1
    return "unreadable-" + digest.hexdigest()[:16]


# --- folders ----------------------------------------------------------------------------


def _stage_folder(submission: Path, reader: _Reader) -> None:
    top = _open_dir(None, str(submission), submission.name)
    try:
        root, where = _locate(top, reader)
        if root is None:
            return
        try:
            reader.copy_tree(root, reader.target, where, 0)
        finally:
            os.close(root)
    finally:
        os.close(top)


def _locate(top: int, reader: _Reader) -> tuple[int | None, str]:
    """The descriptor of the assignment/ folder to copy (None: loose files were copied instead)."""
    names = reader.list(top, "the submission")
    if "assignment" in names:
        return _assignment_in(top, "assignment", reader)
    kinds = {n: _kind_at(top, n) for n in names if not _skipped(n)}
    if not kinds:
        raise BadSubmission("the submission is empty: an empty folder" + (" (only hidden files)" if names else ""))
    inner = [n for n, kind in kinds.items() if kind == "dir"]
    if len(inner) == 1:
        folder = _open_dir(top, inner[0], inner[0])
        try:
            if "assignment" in reader.list(folder, inner[0]):
                return _assignment_in(folder, f"{inner[0]}/assignment", reader)
        finally:
            os.close(folder)
    loose = sorted(n for n, kind in kinds.items() if n in LOOSE and kind == "file")
    if loose:
        for name in loose:
            reader.copy_file(top, name, reader.target / name, name)
        reader.copy_written(top, kinds.get(WRITTEN), WRITTEN)
        return None, ""
    if len(kinds) == 1 and list(kinds.values()) == ["file"] and next(iter(kinds)).endswith(".zip"):
        intake_zip.stage_zip(intake_zip.read_archive(top, next(iter(kinds))), reader, next(iter(kinds)))  # Gradescope's upload of one .zip
        return None, ""
    links = sorted(n for n, kind in kinds.items() if kind == "link")
    if links:
        raise BadSubmission(f"no assignment/ folder found: {links[0]} is a symbolic link, and the grader follows no link", "link")
    raise BadSubmission("no assignment/ folder at the top of the submission or inside its one top-level folder")


def _assignment_in(folder: int, shown: str, reader: _Reader) -> tuple[int, str]:
    kind = _kind_at(folder, "assignment")
    if kind == "link":
        raise BadSubmission(f"{shown} is a symbolic link; the grader follows no link: submit the folder itself", "link")
    if kind != "dir":
        raise BadSubmission(f"{shown} is not a folder")
    beside = reader.list(folder, shown)
    if MANIFEST in beside and _kind_at(folder, MANIFEST) == "file":  # python -m submit's, beside it
        reader.copy_file(folder, MANIFEST, reader.target.parent / MANIFEST, MANIFEST)
    if WRITTEN in beside:
        reader.copy_written(folder, _kind_at(folder, WRITTEN), shown[: -len("assignment")] + WRITTEN)
    return _open_dir(folder, "assignment", shown), shown


@dataclass
class _Reader:
    """Copies regular files into `target`, counting entries, bytes, depth and time."""

    target: Path
    flags: list[dict] = field(default_factory=list)
    written_problem: str | None = None
    entries: int = 0
    total: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)

    def tick(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise BadSubmission(f"the submission holds over {MAX_ENTRIES} files and folders", "bad-submission")
        if time.monotonic() > self.deadline:
            raise BadSubmission(f"reading the submission took over {MAX_SECONDS:.0f} s", "bad-submission")

    def list(self, fd: int, shown: str) -> list[str]:
        names = []
        with os.scandir(fd) as entries:
            for entry in entries:
                self.tick()
                names.append(entry.name)
        return sorted(names)

    def copy_tree(self, fd: int, target: Path, shown: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise BadSubmission(f"{shown} is nested over {MAX_DEPTH} folders deep", "bad-submission")
        for name in self.list(fd, shown):
            if _skipped(name):
                continue
            kind, where = _kind_at(fd, name), f"{shown}/{name}"
            if kind == "link":
                self.flag("link", f"symbolic link in the submission, not followed: {where}")
            elif kind == "dir":
                (target / name).mkdir()
                inner = _open_dir(fd, name, where)
                try:
                    self.copy_tree(inner, target / name, where, depth + 1)
                finally:
                    os.close(inner)
            elif kind == "file":
                self.copy_file(fd, name, target / name, where)
            else:
                raise BadSubmission(f"{where} is a {kind}; submit regular files only", "special-file")

    def copy_file(self, folder: int, name: str, destination: Path, shown: str, limit: int = MAX_FILE_BYTES) -> None:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # replaced since it was listed
                raise BadSubmission(f"{shown} is a {_kind(info.st_mode)}; submit regular files only", "special-file")
            self.write(destination, _read_bounded(fd, info.st_size, shown, limit), shown)
        finally:
            os.close(fd)

    def copy_written(self, folder: int, kind: str | None, shown: str) -> None:
        """written.toml beside assignment/: a regular file within its bound is copied; anything else
        is left out, with the reason for the student (a link is also flagged, never followed)."""
        if kind is None:
            return
        if kind == "link":
            self.flag("link", f"symbolic link in the submission, not followed: {shown}")
            self.written_problem = f"{shown} is a symbolic link: not read"
        elif kind != "file":
            self.written_problem = f"{shown} is a {kind}, not a file: not read"
        elif os.stat(WRITTEN, dir_fd=folder, follow_symlinks=False).st_size > MAX_WRITTEN_BYTES:
            self.written_problem = f"{shown} is over {MAX_WRITTEN_BYTES // 2**10} KiB: not read"
        else:
            self.copy_file(folder, WRITTEN, self.target.parent / WRITTEN, shown, limit=MAX_WRITTEN_BYTES)

    def write(self, destination: Path, data: bytes, shown: str) -> None:
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise BadSubmission(f"the submission's assignment/ holds over {MAX_TOTAL_BYTES // 2**20} MiB", "bad-submission")
        destination.write_bytes(data)
        destination.chmod(0o644)

    def flag(self, kind: str, detail: str) -> None:
        if len(self.flags) < 20:
            self.flags.append({"kind": kind, "detail": detail, "test": None})


def _read_bounded(fd: int, size: int, shown: str, limit: int = MAX_FILE_BYTES) -> bytes:
    if size > limit:
        raise BadSubmission(f"{shown} is over {_size(limit)}", "bad-submission")
    chunks, got = [], 0
    while chunk := os.read(fd, min(1 << 20, limit + 1 - got)):
        chunks.append(chunk)
        got += len(chunk)
        if got > limit:  # it grew while being read
            raise BadSubmission(f"{shown} is over {_size(limit)}", "bad-submission")
    return b"".join(chunks)


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB"


def _open_dir(folder: int | None, name: str, shown: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=folder)
    except OSError as error:  # a link (ELOOP), or not a folder after all
        raise BadSubmission(f"{shown} cannot be opened as a folder ({error.strerror}); the grader follows no link", "link") from None


def _kind_at(folder: int, name: str) -> str:
    return _kind(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return {stat.S_IFIFO: "named pipe", stat.S_IFSOCK: "socket", stat.S_IFCHR: "device", stat.S_IFBLK: "device"}.get(stat.S_IFMT(mode), "special file")


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED


# The .zip reader reads with this module's _Reader and limits: imported once they exist.
from grader.core import intake_zip  # noqa: E402
