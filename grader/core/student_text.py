"""Trusted side: text that crosses from a submission, or on its way to a student.

scrub: text on its way to a student (results.json's output, feedback pages) loses the staff
machine's details: where Python, the project and the sandbox keep their files.

A traceback line `/usr/lib/python3.11/site-packages/hypothesis/core.py:123` becomes
`hypothesis/core.py:123`; the jail's `/submission/assignment/x.py` becomes `assignment/x.py`.
"""

from __future__ import annotations

import re
import unicodedata

from seam import REPO_ROOT

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


def printable(text: str) -> str:
    r"""Student-controlled text (a name, a message) for a staff terminal, page or file, neutralised:
    each character that could restyle, move, hide or disguise text shows as an escape (`\x1b`,
    `\u200b`), so nothing restyles or hides a line, and two names that differ look different.

    Escaped: control and format characters (an ANSI escape, zero-width characters, bidi controls,
    a byte-order mark), line and paragraph separators, surrogates (undecodable bytes in a file
    name), private-use and unassigned code points, whitespace other than a plain space and, in text
    that is not in Unicode's composed form (NFC), its combining marks: `zoe` and a combining
    diaeresis shows as `zoe\u0308`, never as the `zoë` another student may be called. A backslash
    shows doubled, so a student's own `\u200b` (six characters) stays distinct from an escape."""
    text = str(text)
    composed = unicodedata.is_normalized("NFC", text)
    return "".join(_escape(c) if _disguises(c, composed) else c for c in text)


def _disguises(char: str, composed: bool) -> bool:
    if char == "\\":
        return True
    category = unicodedata.category(char)
    return (
        category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        or (category == "Zs" and char != " ")
        or (not composed and category.startswith("M"))
    )


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    point = ord(char)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def shorten(text: str, width: int) -> str:
    """At most `width` characters: a longer text keeps its start and ends in "…"."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


# Letters of other scripts that look like Latin ones (after NFKC, which already folds full-width
# and other compatibility forms): enough to see `аlice` (Cyrillic а) and `alice` as one name.
_CONFUSABLE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "ı": "i", "ℓ": "l", "0": "o", "1": "l",
})


def look_alike_key(name: str) -> str:
    """What a name looks like: NFKC, no invisible characters, case folded, look-alike letters as Latin."""
    folded = unicodedata.normalize("NFKC", str(name))
    visible = "".join(c for c in folded if unicodedata.category(c) not in ("Cc", "Cf", "Mn", "Me", "Zl", "Zp"))
    return unicodedata.normalize("NFD", visible).casefold().translate(_CONFUSABLE).replace(" ", "")


def look_alikes(names) -> list[list[str]]:
    """Groups of two or more different names that look the same on a screen."""
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        groups.setdefault(look_alike_key(name), []).append(name)
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)


def distinct_names(names) -> dict[str, str]:
    r"""name -> how staff outputs show it: `printable`, and for names that look like another
    student's, every character beyond ASCII escaped as well (`\u0430lice` beside `alice`)."""
    shown = {name: printable(name) for name in names}
    for group in look_alikes(names):
        for name in group:
            shown[name] = "".join(c if ord(c) < 0x80 else _escape(c) for c in shown[name])
    return shown


# Frames of the grader (the sandbox's call plumbing), of pytest and pluggy (the test runner) and of
# hypothesis (`hypothesis/core.py:1730: in _raise_to_user`) are no student's business: only the
# test's own lines and the student's code stay. A path may come relative (the checkout) or whole.
_PLUMBING = r"(?:[^\s\"]*/)?(?:grader|_pytest|pluggy|hypothesis)/"
_GRADER_FRAME = re.compile(rf'^(?P<indent>E?[ |]*)(?:File "{_PLUMBING}[^"]*", line \d+|{_PLUMBING}\S+:\d+: in )')
_GRADER_PLACE = re.compile(r" at grader/\S+:\d+")  # hypothesis's "INTERESTING from X at grader/core/sandbox.py:291"


def without_grader_frames(traceback: str) -> str:
    """A traceback without the frames of the grader, pytest and hypothesis: each such entry
    (`File ".../hypothesis/core.py", line 9` or `grader/core/sandbox.py:310: in request`) goes,
    with the more indented source lines under it."""
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
    return _GRADER_PLACE.sub("", "\n".join(kept)).replace("grader.core.faults.", "")
