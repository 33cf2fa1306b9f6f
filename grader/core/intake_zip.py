"""Trusted side: a submission delivered as a .zip, read into the staged copy (see intake.py).

The archive is read whole from an O_NOFOLLOW descriptor (bounded), its central directory's size
checked before zipfile parses it, and each entry extracted by its own bounded write: no entry's
path leaves the staged folder, no link is created, names and sizes and counts are bounded.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from pathlib import Path, PurePosixPath

from grader.core.intake import (
    LOOSE, MAX_ARCHIVE_BYTES, MAX_DEPTH, MAX_ENTRIES, MAX_FILE_BYTES, MAX_WRITTEN_BYTES, WRITTEN, BadSubmission, _FILE_FLAGS,
    _kind, _Reader, _size, _skipped,
)
from grader.core.manifest import MANIFEST

_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")


def read_archive(folder: int | None, name: str) -> bytes:
    fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadSubmission(f"{Path(name).name} is a {_kind(info.st_mode)}, not a .zip", "special-file")
        if info.st_size > MAX_ARCHIVE_BYTES:
            raise BadSubmission(f"the .zip is over {MAX_ARCHIVE_BYTES // 2**20} MiB")
        return _read_whole(fd, info.st_size)
    finally:
        os.close(fd)


def _read_whole(fd: int, size: int) -> bytes:
    chunks, got = [], 0
    while got <= MAX_ARCHIVE_BYTES and (chunk := os.read(fd, 1 << 20)):
        chunks.append(chunk)
        got += len(chunk)
    if got > MAX_ARCHIVE_BYTES:
        raise BadSubmission(f"the .zip is over {MAX_ARCHIVE_BYTES // 2**20} MiB")
    return b"".join(chunks)


def stage_zip(data: bytes, reader: _Reader, name: str) -> None:
    _check_directory_size(data, name)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            infos = zipped.infolist()
            if not infos:
                raise BadSubmission(f"{name} is empty: a .zip with nothing in it")
            if len(infos) > MAX_ENTRIES:
                raise BadSubmission(f"the .zip holds over {MAX_ENTRIES} entries", "bad-submission")
            prefix = _zip_prefix(infos)
            for info in infos:
                reader.tick()
                _extract(zipped, info, prefix, reader)
    except BadSubmission:
        raise
    except Exception as error:  # a corrupt, encrypted or oddly compressed archive: the student's to fix
        raise BadSubmission(f"{name} is not a readable .zip ({type(error).__name__}: {error})") from None


def _check_directory_size(data: bytes, name: str) -> None:
    """Refuse a .zip with too many entries from its end record, before any entry is parsed."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if at < 0 or len(data) - at < _END_OF_DIRECTORY.size:
        raise BadSubmission(f"{name} is not a readable .zip")
    _, _, _, _, entries, directory_bytes, _, _ = _END_OF_DIRECTORY.unpack_from(data, at)
    if entries > MAX_ENTRIES or directory_bytes > MAX_ENTRIES * 512:
        raise BadSubmission(f"the .zip holds over {MAX_ENTRIES} entries", "bad-submission")


def _zip_prefix(infos: list[zipfile.ZipInfo]) -> str:
    """Where assignment/ is inside the archive ("" or "folder/"), or the loose-files layout ("*")."""
    names = [PurePosixPath(info.filename) for info in infos]
    if any(n.parts[:1] == ("assignment",) and len(n.parts) > 1 for n in names):
        return ""
    tops = {n.parts[0] for n in names if len(n.parts) > 1 and not _skipped(n.parts[0])}
    if len(tops) == 1:
        (top,) = tops
        if any(n.parts[:2] == (top, "assignment") and len(n.parts) > 2 for n in names):
            return f"{top}/"
    if any(len(n.parts) == 1 and n.name in LOOSE for n in names):
        return "*"
    raise BadSubmission("no assignment/ folder at the top of the .zip or inside its one top-level folder")


def _extract(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str, reader: _Reader) -> None:
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts:
        raise BadSubmission(f"the .zip holds an unsafe path: {info.filename}", "bad-submission")
    if prefix != "*" and info.filename == prefix + MANIFEST and stat.S_IFMT(info.external_attr >> 16) in (0, stat.S_IFREG):
        _write_entry(zipped, info, reader.target.parent / MANIFEST, reader)  # python -m submit's, beside assignment/
        return
    if info.filename == (prefix if prefix != "*" else "") + WRITTEN:
        _written_entry(zipped, info, reader)
        return
    if prefix == "*":
        relative = name.parts if len(name.parts) == 1 and name.name in LOOSE else None
    else:
        start = PurePosixPath(prefix, "assignment").parts
        relative = name.parts[len(start):] if name.parts[: len(start)] == start else None
    if not relative or any(_skipped(part) for part in relative):
        return
    if len(relative) > MAX_DEPTH:
        raise BadSubmission(f"{info.filename} is nested over {MAX_DEPTH} folders deep", "bad-submission")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        reader.flag("link", f"symbolic link in the .zip, not extracted: {info.filename}")
        return
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BadSubmission(f"{info.filename} is a {_kind(mode)}; submit regular files only", "special-file")
    destination = reader.target.joinpath(*relative)
    if info.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    _write_entry(zipped, info, destination, reader)


def _written_entry(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, reader: _Reader) -> None:
    """written.toml beside assignment/ in the .zip: as _Reader.copy_written, for an archive's entry."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if stat.S_ISLNK(info.external_attr >> 16):
        reader.flag("link", f"symbolic link in the .zip, not extracted: {info.filename}")
        reader.written_problem = f"{info.filename} is a symbolic link: not read"
    elif kind not in (0, stat.S_IFREG) or info.is_dir():
        reader.written_problem = f"{info.filename} is not a regular file: not read"
    elif info.file_size > MAX_WRITTEN_BYTES:
        reader.written_problem = f"{info.filename} is over {MAX_WRITTEN_BYTES // 2**10} KiB: not read"
    else:
        _write_entry(zipped, info, reader.target.parent / WRITTEN, reader, MAX_WRITTEN_BYTES)


def _write_entry(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, reader: _Reader, limit: int = MAX_FILE_BYTES) -> None:
    if info.file_size > limit:
        raise BadSubmission(f"{info.filename} is over {_size(limit)}", "bad-submission")
    with zipped.open(info) as source:
        data = source.read(limit + 1)  # never trust the size the entry claims
    if len(data) > limit:
        raise BadSubmission(f"{info.filename} is over {_size(limit)}", "bad-submission")
    reader.write(destination, data, info.filename)
