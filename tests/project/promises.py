"""The promise table (tests/data/promises.toml): what the student-facing text promises, and the tests that check it.

    python -m tests.project.promises            # candidate promise sentences the table does not cover yet
    python -m tests.project.promises --stale    # table quotes no source sentence matches any more

A *promise* is a sentence of handout.md, docs/api.md or a stub's docstring (assignment/*.py) that
fixes a behaviour: an argument kind, a keyword, an error, a statistic, an edge case. The table keys
each one by a stable id, quotes a few words of it and names the tests (public or hidden, `path::function`
under tests/) that check it. `[[prose]]` entries quote sentences that look like promises but are not
(motivation, set-up, a promise made elsewhere in the table), with the reason.

Matching survives prose edits: text is compared as lower-case words (markdown, backticks and
punctuation dropped), and a quote matches a sentence when its words appear there in order, or when the
sentence holds MATCH of its distinct words and difflib lines up MATCH of its words in a window of the
sentence (a reworded clause still matches; a rewritten sentence does not, and then the quote is stale
and the sentence a new candidate).
tests/project/test_promises.py keeps the table complete: every candidate sentence covered, every
quote still found, every named test existing.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from grader.compat import tomllib
from seam import MODULES, REPO_ROOT

TABLE = REPO_ROOT / "tests" / "data" / "promises.toml"
MATCH = 0.8  # share of a quote's words that must match, in order, inside one sentence

# A sentence is a candidate promise when it names behaviour: an error, a return, a rule word.
PROMISE_WORDS = re.compile(
    r"\b(raises?|valueerror|indexerror|typeerror|returns?|gives?|must|may|accepts?|allowed|default|defaults|"
    r"skipped|skip|ignored|keeps?|never|always|exactly|none|lazily|in place|on the device|on x's device|"
    r"is graded|the tests?|checked|rejected|refused?|included|inclusive|->|true|false|takes?|holds?|counts?|"
    r"ignores?|treats?|follows?|equal|same|only|uniform|tuples?|ints?|float|bool|dtype|shape|error)\b"
)


@dataclass(frozen=True)
class Sentence:
    source: str  # handout.md, docs/api.md or assignment/M.py
    text: str  # as written (one line, whitespace collapsed)

    @property
    def words(self) -> tuple[str, ...]:
        return words(self.text)


def words(text: str) -> tuple[str, ...]:
    """Lower-case words and numbers; markdown, quotes and punctuation dropped (`2**-10` stays one word)."""
    text = text.lower().replace("\u2212", "-").replace("\u2014", " ").replace("\u2192", "->")
    return tuple(re.findall(r"[a-z0-9_.*+/=<>-]*[a-z0-9_]|->|<=|>=|==", text))


# --- the sources, as sentences -----------------------------------------------------------------
def sources() -> dict[str, str]:
    found = {"handout.md": (REPO_ROOT / "handout.md").read_text(), "docs/api.md": (REPO_ROOT / "docs" / "api.md").read_text()}
    for module in MODULES:
        found[f"assignment/{module}.py"] = "\n\n".join(_docstrings((REPO_ROOT / "assignment" / f"{module}.py").read_text()))
    return found


def _docstrings(code: str) -> list[str]:
    tree = ast.parse(code)
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    return [doc for doc in (ast.get_docstring(n) for n in nodes) if doc]


def sentences(name: str, text: str) -> list[Sentence]:
    """Prose sentences: fenced code dropped, list items and table rows kept apart, split at . ; : ends."""
    text = re.sub(r"```.*?```", "\n\n", text, flags=re.DOTALL)
    found = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*|]|\d+\.)\s)", text):
        flat = " ".join(block.split())
        for piece in re.split(r"(?<=[.;])\s+(?=[A-Z`(*\"])", flat):
            piece = piece.strip(" -*|")
            if len(words(piece)) >= 3:
                found.append(Sentence(name, piece))
    return found


@lru_cache(maxsize=None)
def all_sentences() -> tuple[Sentence, ...]:
    return tuple(s for name, text in sources().items() for s in sentences(name, text))


def candidates() -> list[Sentence]:
    return [s for s in all_sentences() if PROMISE_WORDS.search(" ".join(s.words))]


# --- matching --------------------------------------------------------------------------------
def matches(quote: str, sentence: Sentence) -> bool:
    """The quote's words in the sentence: in order, or MATCH of them in one window (difflib)."""
    return _matches(words(quote), sentence.words)


@lru_cache(maxsize=None)
def _matches(q: tuple[str, ...], s: tuple[str, ...]) -> bool:
    if not q:
        return False
    if f" {' '.join(q)} " in f" {' '.join(s)} ":
        return True
    if len(q) > len(s) * 1.5 + 2:
        return False
    blocks = difflib.SequenceMatcher(None, q, s, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) >= MATCH * len(q) and _span(blocks) <= len(q) * 1.5 + 2


def _span(blocks) -> int:
    used = [b for b in blocks if b.size]
    return used[-1].b + used[-1].size - used[0].b if used else 0


# --- the table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Promise:
    id: str
    quotes: tuple[str, ...]
    tests: tuple[str, ...]
    note: str = ""
    new: bool = False  # no test checked it before issue 19's tests
    partly: bool = False  # before issue 19, tests checked a necessary condition only


@dataclass(frozen=True)
class Prose:
    quote: str
    why: str


def load() -> tuple[list[Promise], list[Prose]]:
    table = tomllib.loads(TABLE.read_text())
    promises = [Promise(p["id"], tuple(p["quotes"]), tuple(p["tests"]), p.get("note", ""), p.get("new", False), p.get("partly", False)) for p in table.get("promise", [])]
    prose = [Prose(p["quote"], p["why"]) for p in table.get("prose", [])]
    return promises, prose


def _quotes(promises: list[Promise], prose: list[Prose]) -> list[str]:
    return [q for p in promises for q in p.quotes] + [p.quote for p in prose]


def _matched(quotes: list[str], pool: tuple[Sentence, ...]) -> dict[str, set[int]]:
    """quote -> indices of the sentences in `pool` it matches. An index of words keeps this fast:
    only sentences holding MATCH of a quote's distinct words are compared with it."""
    holding: dict[str, set[int]] = {}
    for i, sentence in enumerate(pool):
        for word in set(sentence.words):
            holding.setdefault(word, set()).add(i)
    found = {}
    for quote in quotes:
        q = words(quote)
        counts: dict[int, int] = {}
        for word in set(q):
            for i in holding.get(word, ()):
                counts[i] = counts.get(i, 0) + 1
        need = MATCH * len(set(q))
        found[quote] = {i for i, n in counts.items() if n >= need and _matches(q, pool[i].words)}
    return found


def uncovered(promises: list[Promise], prose: list[Prose]) -> list[Sentence]:
    """Candidate sentences no promise quote and no prose entry matches."""
    pool = tuple(candidates())
    covered = set().union(*_matched(_quotes(promises, prose), pool).values())
    return [s for i, s in enumerate(pool) if i not in covered]


def stale(promises: list[Promise], prose: list[Prose]) -> list[str]:
    """Quotes that match no sentence of any source any more."""
    return [q for q, hits in _matched(_quotes(promises, prose), all_sentences()).items() if not hits]


def test_functions() -> set[str]:
    """Every `path::function` of the public and hidden suites (the keys the rubric uses)."""
    found = set()
    for suite in ("public", "hidden"):
        for path in sorted((REPO_ROOT / "tests" / suite).glob("test_*.py")):
            tree = ast.parse(path.read_text())
            found |= {f"{suite}/{path.name}::{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return found


def main(argv: list[str]) -> int:
    promises, prose = load()
    if "--stale" in argv:
        for quote in stale(promises, prose):
            print(quote)
        return 0
    missing = uncovered(promises, prose)
    for sentence in missing:
        print(f"{sentence.source}: {sentence.text}")
    print(f"\n{len(missing)} candidate promise sentences not in {TABLE.relative_to(REPO_ROOT)} "
          f"({len(candidates())} candidates, {len(promises)} promises ({sum(p.new for p in promises)} untested before "
          f"issue 19, {sum(p.partly for p in promises)} tested in part), {len(prose)} prose entries)", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
