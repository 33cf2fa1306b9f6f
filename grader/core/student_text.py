"""Trusted side: text that crosses from a submission, or on its way to a student.

scrub: text on its way to a student (results.json's output, feedback pages) loses the staff
machine's details: where Python, the project and the sandbox keep their files.

A traceback line `/usr/lib/python3.11/site-packages/hypothesis/core.py:123` becomes
`hypothesis/core.py:123`; the jail's `/submission/assignment/x.py` becomes `assignment/x.py`.
"""

from __future__ import annotations

import re

from tests.seam import REPO_ROOT

_PACKAGES = re.compile(r"(?:/[^\s:'\"()<>]+)*?/(?:site|dist)-packages/")
_STDLIB = re.compile(r"(?:/[^\s:'\"()<>]+)*?/lib/python3\.\d+/")
_JAIL = re.compile(r"(?<![\w/])/submission/(?=assignment/)")


def scrub(text: str) -> str:
    """`text` without the grader machine's paths (relative names stay: they say which file)."""
    text = text.replace(f"{REPO_ROOT}/", "")
    text = _PACKAGES.sub("", text)
    text = _STDLIB.sub("", text)
    text = _ADDRESS.sub("0x…", text)
    return _JAIL.sub("", text)


# A repr's memory address (`<... object at 0x7f44528359a0>`) differs between runs: without it the
# same submission always gets the same feedback, byte for byte.
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{8,}\b")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Student-controlled text (a name, a message) for a staff terminal or page: control characters
    (an ANSI escape begins with one) become "?", so nothing restyles, moves or hides a line."""
    return _CONTROL.sub("?", str(text))


_GRADER_FRAME = re.compile(r'^(?P<indent>E?[ |]*)(?:File "grader/[^"]*", line \d+|grader/\S+:\d+: in )')
_GRADER_PLACE = re.compile(r" at grader/\S+:\d+")  # hypothesis's "INTERESTING from X at grader/core/sandbox.py:291"


def without_grader_frames(traceback: str) -> str:
    """A traceback without the grader's own frames (the sandbox's call plumbing is no student's
    business): each `File "grader/..."` entry goes, with the more indented source lines under it."""
    kept, skip_deeper_than, in_error_lines = [], None, False
    for line in traceback.splitlines():
        body = line[1:] if line.startswith("E") else line
        depth = len(line) - len(body.lstrip(" |"))
        child = line.startswith("E") == in_error_lines and line.strip(" |")  # pytest's "E " lines are no frame's source
        if skip_deeper_than is not None and depth > skip_deeper_than and child:
            continue
        skip_deeper_than = None
        frame = _GRADER_FRAME.match(line)
        if frame:
            skip_deeper_than, in_error_lines = len(frame.group("indent")), line.startswith("E")
            continue
        kept.append(line)
    return _GRADER_PLACE.sub("", "\n".join(kept)).replace("grader.core.sandbox.", "")
