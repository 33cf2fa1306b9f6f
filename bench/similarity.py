"""How long `python -m grader similarity` takes on a large class, and copydetect on the planted one.

    python bench/similarity.py [--n 500] [--copydetect]

Writes N synthetic submissions to a temporary folder (not timed): each module of each student is
one of the independent implementations (the reference, the examples, tests/data/similarity/) or
the stub, disguised at random (renamed, reordered, dead statements), so every module has many
near-copies in the class: a dense case for the index. Then times the real command on them, the
HTML report included. --copydetect also scores the planted class with copydetect (if installed)
as the similarity command does: the lowest planted and highest independent pair.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.staff.similarity import similarity_planted  # noqa: E402
from seam import MODULES, REPO_ROOT  # noqa: E402


def write_synthetic_class(out: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    sources = {m: [f / f"{m}.py" for f in similarity_planted.OWN_WORK.values() if (f / f"{m}.py").is_file()] for m in MODULES}
    for student in range(count):
        folder = out / f"student{student:04d}" / "assignment"
        folder.mkdir(parents=True)
        for module in MODULES:
            choice = rng.choice(sources[module] + [REPO_ROOT / "assignment" / f"{module}.py"])
            disguises = tuple(d for d in ("rename", "reorder", "dead") if rng.random() < 0.6)
            (folder / f"{module}.py").write_text(similarity_planted.disguise(choice.read_text(), disguises, rng))


def time_command(folder: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all processes: load on a shared machine inflates only the first)."""
    started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "grader", "similarity", str(folder), "--out", str(out)], check=True, cwd=REPO_ROOT, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic() - started, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def copydetect_on_planted(folder: Path) -> tuple[float, float]:
    """copydetect's per-module similarity (mean of its two directions), best module per pair."""
    import numpy as np
    from copydetect import CodeFingerprint, compare_files

    students, planted = similarity_planted.write_class(folder)
    best: dict[frozenset[str], float] = {}
    for module in MODULES:
        stub = CodeFingerprint(str(REPO_ROOT / "assignment" / f"{module}.py"), 25, 1)
        prints = {s.name: CodeFingerprint(str(s / "assignment" / f"{module}.py"), 25, 6, boilerplate=np.array(sorted(stub.hashes))) for s in students}
        for a, b in combinations(prints, 2):
            _, (one, two), _ = compare_files(prints[a], prints[b])
            key = frozenset((a, b))
            best[key] = max(best.get(key, 0.0), (one + two) / 2)
    return min(v for k, v in best.items() if k in planted), max(v for k, v in best.items() if k not in planted)


def copydetect_seconds(folder: Path, count: int) -> float:
    """copydetect's fingerprints and all-pairs comparison (its own loop) over `count` students."""
    from copydetect import CodeFingerprint, compare_files

    students = sorted(folder.iterdir())[:count]
    started = time.monotonic()
    for module in MODULES:
        prints = [CodeFingerprint(str(s / "assignment" / f"{module}.py"), 25, 6) for s in students]
        for a, b in combinations(prints, 2):
            compare_files(a, b)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--copydetect", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="similarity-bench-") as scratch:
        scratch = Path(scratch)
        write_synthetic_class(scratch / "class", args.n)
        wall, cpu = time_command(scratch / "class", scratch / "report")
        print(f"{args.n} submissions x {len(MODULES)} modules: `python -m grader similarity` (report included) took {wall:.1f} s wall, {cpu:.1f} s CPU")
        if args.copydetect:
            low, high = copydetect_on_planted(scratch / "planted")
            print(f"copydetect on the planted class: lowest planted pair {low:.3f}, highest independent pair {high:.3f}")
            sample = min(args.n, 100)
            seconds = copydetect_seconds(scratch / "class", sample)
            print(f"copydetect, {sample} of them, all pairs: {seconds:.1f} s (pairs grow as n squared: x{(args.n / sample) ** 2:.0f} for {args.n})")


if __name__ == "__main__":
    main()
