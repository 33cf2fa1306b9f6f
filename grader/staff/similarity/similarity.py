"""Staff tooling: which submissions of a class look copied from each other, module by module.

    read_modules   THE SEAM: a submission's assignment/*.py, read without following links
    fingerprints   a module's AST as a stream of node types (names, literals, docstrings,
                   annotations and imports dropped), its k-grams hashed and winnowed
    compare        an inverted index fingerprint -> submissions (a sparse matrix): shared
                   fingerprints per pair come from one sparse product, never from a Python
                   loop over pairs; the stubs' fingerprints and those most of the class
                   shares are dropped first
    clusters       connected components of the pairs above a threshold

Student code is only parsed (ast), never imported or run.
"""

from __future__ import annotations

import ast
import os
import stat
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.core import intake
from seam import MODULES, REPO_ROOT

STUBS = REPO_ROOT / "assignment"
MAX_MODULE_BYTES = 512 * 2**10  # a longer module is not a student's work: it is skipped
K = 16  # nodes per k-gram: a statement or two (`x = a * b` is 6 nodes)
WINDOW = 8  # winnowing: any match of K + WINDOW - 1 nodes shares at least one fingerprint
COMMON_SHARE = 0.5  # a fingerprint in more than this share of the class is the assignment's, not a copy's
MIN_FINGERPRINTS = 8  # fewer kept fingerprints: too little code in the module to judge


# --- reading: the seam -----------------------------------------------------------------------


def read_modules(submission: Path) -> dict[str, str]:
    """{module: source} of a submission's assignment/M.py (a folder or a .zip), read safely.

    Read through the grader's intake (grader/core/intake.py: no link followed, only regular files,
    every count and size bounded), so assignment/ is found where the grader finds it. A module
    over MAX_MODULE_BYTES is skipped; undecodable bytes are replaced; a refused submission has none.
    """
    with tempfile.TemporaryDirectory(prefix="similarity-") as scratch:
        try:
            folder = intake.stage(submission, Path(scratch)).folder / "assignment"
        except (intake.BadSubmission, OSError):
            return {}
        files = {module: folder / f"{module}.py" for module in MODULES}
        return {
            module: path.read_bytes().decode("utf-8", errors="replace")
            for module, path in files.items()
            if path.is_file() and path.stat().st_size <= MAX_MODULE_BYTES
        }


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


# --- fingerprints ----------------------------------------------------------------------------

# Node types as small integers in a fixed order (string hashes change between runs).
TYPE_IDS = {getattr(ast, n): i + 1 for i, n in enumerate(sorted(n for n in dir(ast) if isinstance(getattr(ast, n), type)))}
BOUNDARY = 0
SKIPPED = (ast.Load, ast.Store, ast.Del, ast.Import, ast.ImportFrom)  # contexts are noise; imports differ freely
SKIPPED_FIELDS = {"annotation", "returns", "type_comment"}
PARALLEL_FROM = 200  # modules: fewer are fingerprinted in this process, more in a process pool
# What parsing a student's module may raise besides a syntax error: `x = ` and 7,000 `-` make the
# parser run out of memory (MemoryError), deep nesting overflows the stack (RecursionError, or
# CPython 3.11's "AST constructor recursion depth mismatch", a SystemError). Any of them: that
# module is not compared (the report says so), and the class goes on.
UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError, SystemError)


def node_stream(source: str) -> tuple[np.ndarray, np.ndarray]:
    """The module's AST node types in pre-order, and each one's line; ([], []) if it does not parse.

    Identifiers and literals are gone (only their node types stay), so renaming and reformatting
    change nothing; docstrings, annotations (the spec fixes the signatures) and imports are left
    out, as are Load/Store contexts (noise). A BOUNDARY (0) precedes each top-level statement
    and method: k-grams never span two, so the order of functions does not matter, and tiny
    functions written in the stub's order do not look alike across their boundaries.
    """
    try:
        tree = ast.parse(source)
    except UNPARSABLE:
        return np.zeros(0, np.uint64), np.zeros(0, np.int32)
    types: list[int] = []
    lines: list[int] = []

    def visit(node: ast.AST, line: int) -> None:
        line = getattr(node, "lineno", line)
        types.append(TYPE_IDS.get(type(node), 0))
        lines.append(line)
        statements = isinstance(node, (ast.Module, ast.ClassDef))
        for name in node._fields:
            if name in SKIPPED_FIELDS:
                continue
            value = getattr(node, name, None)
            children = value if isinstance(value, list) else (value,)
            if name == "body" and _has_docstring(children):
                children = children[1:]
            for child in children:
                if isinstance(child, ast.AST) and not isinstance(child, SKIPPED):
                    if statements and name == "body":
                        types.append(BOUNDARY)
                        lines.append(getattr(child, "lineno", line))
                    visit(child, line)

    try:
        visit(tree, 1)
    except (RecursionError, MemoryError):
        return np.zeros(0, np.uint64), np.zeros(0, np.int32)
    return np.array(types, np.uint64), np.array(lines, np.int32)


def parses(source: str) -> bool:
    """Whether `source` parses (compile-only: nothing is run)."""
    try:
        ast.parse(source)
    except UNPARSABLE:
        return False
    return True


def _has_docstring(body: list) -> bool:
    first = body[0] if body else None
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def kgram_hashes(types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A polynomial hash of every K consecutive node types within one statement, and its start."""
    count = len(types) - K + 1
    if count <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    hashes = np.zeros(count, np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(K):
            hashes = hashes * np.uint64(1_000_003) + types[offset : offset + count]
        hashes ^= hashes >> np.uint64(29)  # spread the high bits into the low ones
    boundaries = np.concatenate(([0], np.cumsum(types == BOUNDARY)))
    starts = np.flatnonzero(boundaries[K : K + count] == boundaries[:count])  # no boundary inside
    return hashes[starts], starts


def winnow(hashes: np.ndarray) -> np.ndarray:
    """The positions winnowing keeps (Schleimer et al., as MOSS): each window's smallest hash."""
    if len(hashes) <= WINDOW:
        return np.arange(len(hashes)) if len(hashes) else np.zeros(0, np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, WINDOW)
    return np.unique(windows.argmin(axis=1) + np.arange(len(windows)))


@dataclass(frozen=True)
class Fingerprints:
    hashes: np.ndarray  # the winnowed k-gram hashes, in source order
    first_line: np.ndarray  # each one's k-gram's first and last source line
    last_line: np.ndarray


def fingerprints(source: str) -> Fingerprints:
    types, lines = node_stream(source)
    hashes, starts = kgram_hashes(types)
    kept = starts[winnow(hashes)]
    hashes = hashes[winnow(hashes)]
    ends = np.maximum.accumulate(lines)  # a k-gram's last line: the furthest any of its nodes reaches
    return Fingerprints(hashes, lines[kept], ends[kept + K - 1] if len(kept) else lines[kept])


# --- the class, compared ---------------------------------------------------------------------


@dataclass
class Submission:
    name: str
    path: Path
    reference: bool = False  # an earlier term's: compared with this term's, not with each other
    modules: dict[str, str] = field(default_factory=dict)
    not_compared: list[str] = field(default_factory=list)  # why parts of it were left out ("flops.py does not parse")


@dataclass(frozen=True)
class Pair:
    a: int  # indices into the submissions
    b: int
    module: str
    shared: int  # fingerprints both have (after the stubs' and the common ones are dropped)
    similarity: float  # 2 * shared / (|A| + |B|), as Dolos: 1.0 when the two sets are equal
    coverage: float  # shared / min(|A|, |B|): the smaller one's share found in the other


def load_class(current: list[Path], references: list[Path] = ()) -> list[Submission]:
    """Each path (a folder or .zip per student, or a folder of them) as a Submission, read."""
    found = []
    for paths, reference in ((current, False), (references, True)):
        for path in paths:
            for one in _students_in(path):
                found.append(_read(one, reference))
    return found


def _read(path: Path, reference: bool) -> Submission:
    """One submission, read and checked to parse; whatever goes wrong is said, never raised."""
    submission = Submission(path.name.removesuffix(".zip"), path, reference)
    try:
        submission.modules = read_modules(path)
    except Exception as error:  # noqa: BLE001 (one student's files stop no one else's comparison)
        submission.not_compared.append(f"not read: {type(error).__name__}")
        return submission
    if not submission.modules:
        submission.not_compared.append("no module could be read (an empty or refused submission)")
    for module, source in list(submission.modules.items()):
        if not parses(source):
            del submission.modules[module]
            submission.not_compared.append(f"{module}.py does not parse")
    return submission


def _students_in(path: Path) -> list[Path]:
    """`path` itself if it is one submission, else its entries (one sub-folder or .zip each)."""
    if path.is_file() or _is_real_dir(path / "assignment"):
        return [path]
    return sorted(p for p in path.iterdir() if not p.name.startswith(".") and (p.suffix == ".zip" or _is_real_dir(p)))


def compare(submissions: list[Submission], common_share: float = COMMON_SHARE, jobs: int | None = None) -> list[Pair]:
    """Every pair with any shared fingerprint in any module, most similar first."""
    prints = class_fingerprints(submissions, jobs)
    pairs = []
    for module in MODULES:
        pairs += compare_module(submissions, module, prints, common_share)
    return sorted(pairs, key=lambda p: (-p.similarity, -p.shared, p.module, p.a, p.b))


def class_fingerprints(submissions: list[Submission], jobs: int | None = None) -> dict[tuple[int, str], np.ndarray]:
    """{(submission index, module): its distinct fingerprints}, on `jobs` processes (default: every core)."""
    keys = [(i, module) for i, s in enumerate(submissions) for module in s.modules]
    sources = [submissions[i].modules[module] for i, module in keys]
    if len(sources) < PARALLEL_FROM or (jobs or os.cpu_count() or 1) == 1:
        return dict(zip(keys, map(_distinct_fingerprints, sources)))
    with ProcessPoolExecutor(jobs) as pool:
        return dict(zip(keys, pool.map(_distinct_fingerprints, sources, chunksize=32)))


def _distinct_fingerprints(source: str) -> np.ndarray:
    return np.unique(fingerprints(source).hashes)


def compare_module(submissions: list[Submission], module: str, prints: dict, common_share: float = COMMON_SHARE) -> list[Pair]:
    from scipy import sparse  # a quarter second: only when comparing, not for every `python -m grader`

    holders = np.array([i for i, s in enumerate(submissions) if module in s.modules], dtype=np.int64)
    if not len(holders):
        return []
    columns = [prints[(i, module)] for i in holders.tolist()]
    rows = np.repeat(np.arange(len(holders)), [len(c) for c in columns])
    vocabulary, column = np.unique(np.concatenate(columns), return_inverse=True)
    matrix = sparse.csr_matrix((np.ones(len(column), np.int32), (rows, column)), shape=(len(holders), len(vocabulary)))
    boilerplate = fingerprints(_stub_source(module)).hashes
    reference = np.array([submissions[i].reference for i in holders.tolist()], dtype=bool)
    matrix = matrix[:, _kept_columns(matrix, vocabulary, boilerplate, reference, common_share)]
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    row_a, row_b, count = shared.row, shared.col, shared.data.astype(np.float64)
    smaller = np.minimum(sizes[row_a], sizes[row_b])
    keep = (smaller >= MIN_FINGERPRINTS) & ~(reference[row_a] & reference[row_b])
    similarity = 2 * count / (sizes[row_a] + sizes[row_b])
    coverage = count / np.maximum(smaller, 1)
    columns_out = (holders[row_a][keep], holders[row_b][keep], count[keep].astype(np.int64), similarity[keep], coverage[keep])
    return [Pair(a, b, module, n, s, c) for a, b, n, s, c in zip(*(x.tolist() for x in columns_out))]


def _kept_columns(matrix, vocabulary, boilerplate, reference, common_share) -> np.ndarray:
    """Fingerprints neither in the stub nor in more than `common_share` of this term's class."""
    current = ~reference
    frequency = np.asarray(matrix[current].sum(axis=0)).ravel()
    limit = max(2, common_share * current.sum())
    return np.flatnonzero((frequency <= limit) & ~np.isin(vocabulary, boilerplate))


def _stub_source(module: str) -> str:
    path = STUBS / f"{module}.py"
    return path.read_text() if path.is_file() else ""


def pair_scores(pairs: list[Pair]) -> dict[tuple[int, int], Pair]:
    """Each pair of submissions' most similar module (a copy of two modules counts in full)."""
    best: dict[tuple[int, int], Pair] = {}
    for pair in pairs:
        key = (pair.a, pair.b)
        if key not in best or pair.similarity > best[key].similarity:
            best[key] = pair
    return best


def clusters(pairs: list[Pair], threshold: float, size: int = 3) -> list[list[int]]:
    """Groups of at least `size` submissions linked by pairs at or above `threshold` (any module)."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        if pair.similarity >= threshold:
            parent[root(pair.a)] = root(pair.b)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return sorted((sorted(g) for g in groups.values() if len(g) >= size), key=lambda g: (-len(g), g))


def matching_lines(source_a: str, source_b: str, common: set[int] | None = None) -> tuple[set[int], set[int]]:
    """The lines of each source covered by fingerprints the other has too (less `common` ones)."""
    fa, fb = fingerprints(source_a), fingerprints(source_b)
    shared = set(fa.hashes.tolist()) & set(fb.hashes.tolist())
    shared -= common or set()
    return _lines_of(fa, shared), _lines_of(fb, shared)


def _lines_of(prints: Fingerprints, shared: set[int]) -> set[int]:
    lines: set[int] = set()
    for value, first, last in zip(prints.hashes.tolist(), prints.first_line.tolist(), prints.last_line.tolist()):
        if value in shared:
            lines.update(range(first, last + 1))
    return lines
