"""`python -m submit`: check your work as the grader will, then pack submission.zip.

Run it from the assignment folder (the one with assignment/ and tests/). It

  1. checks that every function and class the assignment asks for is in assignment/, with
     the parameters the stubs have (you may add parameters with defaults, never rename one),
  2. runs the public tests the way the grader runs them (its hypothesis profile, `grading`:
     the same fixed examples every time),
  3. writes submission.zip: your assignment/*.py files, your written.toml (the written part's
     answers, when it is beside assignment/) and a manifest of their sha256 digests (the grader
     checks the files it gets are the ones you packed).

It prints what it packed and what would lose points, and exits 1 when anything is missing or a
public test fails (submission.zip is written anyway: you may still hand it in). The grader also
runs hidden tests: passing every public one is a good sign, not a guarantee.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
API = ROOT / "submit_api.json"  # the names and parameters of the stubs, written at release
MANIFEST = "submission-manifest.json"
WRITTEN = ROOT / "written.toml"  # the written part's answers (see questions.py)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m submit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "submission.zip", help="where to write the zip (default: %(default)s)")
    parser.add_argument("--skip-tests", action="store_true", help="only check the names and pack (the tests take a minute)")
    args = parser.parse_args(argv)
    problems = check_api(json.loads(API.read_text()))
    failures = [] if args.skip_tests else run_public_tests()
    packed = pack(args.out)
    print(f"\nPacked {args.out} ({len(packed)} files, manifest {MANIFEST}):")
    for name in packed:
        print(f"  {name}")
    written_notes()
    return verdict(problems, failures, args.skip_tests)


# --- 1. names and signatures -----------------------------------------------------------------


def check_api(api: dict) -> list[str]:
    """What the grader would miss: modules that do not import, names not there, parameters changed."""
    sys.path.insert(0, str(ROOT))
    problems = []
    for module, names in api.items():
        try:
            loaded = importlib.import_module(f"assignment.{module}")
        except Exception as error:  # a syntax error or an exception at import: every test of it fails
            problems.append(f"assignment/{module}.py does not import: {error!r}")
            continue
        for name, expected in names.items():
            found = getattr(loaded, name, None)
            if found is None:
                problems.append(f"assignment/{module}.py has no {name}")
                continue
            for method, parameters in expected.get("methods", {}).items():
                problems += _signature_problems(f"{module}.{name}.{method}", getattr(found, method, None), parameters)
            for field in expected.get("fields", []):
                if not hasattr(found, field):
                    problems.append(f"{module}.{name} has no field {field}")
            if expected["kind"] == "function":
                problems += _signature_problems(f"{module}.{name}", found, expected["parameters"])
    return problems


def _signature_problems(where: str, found, expected: list[list]) -> list[str]:
    """Each stub parameter kept in place (name and kind, a default where the stub has one);
    added parameters need a default."""
    if found is None or not callable(found):
        return [f"{where} is missing or not callable"]
    try:
        actual = list(inspect.signature(found).parameters.values())
    except (TypeError, ValueError):
        return []  # a builtin or C function: nothing to compare
    problems = []
    for position, (name, kind, has_default) in enumerate(expected):
        match = actual[position] if position < len(actual) else None
        if match is None or match.name != name or match.kind.name != kind:
            got = f"{match.name} ({match.kind.description})" if match else "nothing"
            problems.append(f"{where}: parameter {position + 1} must be `{name}`, as in the stub; found {got}")
        elif has_default and match.default is inspect.Parameter.empty:
            problems.append(f"{where}: `{name}` must keep a default value, as in the stub")
    for extra in actual[len(expected):]:
        if extra.default is inspect.Parameter.empty and extra.kind not in (extra.VAR_POSITIONAL, extra.VAR_KEYWORD):
            problems.append(f"{where}: the added parameter `{extra.name}` needs a default (the grader will not pass it)")
    return problems


# --- 2. the public tests, as the grader runs them ----------------------------------------------


def run_public_tests() -> list[str]:
    """The failing public tests' names (file::test), after running them with the grading profile."""
    print("Running the public tests as the grader does (hypothesis profile `grading`) ...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "junit.xml"
        command = [
            sys.executable, "-m", "pytest", "tests/public", "--impl", str(ROOT),
            "--hypothesis-profile=grading", "-p", "no:cacheprovider", "-q", "--no-header", "-rN",
            "--tb=no", f"--junitxml={junit}",
        ]
        finished = subprocess.run(command, cwd=ROOT)
        if not junit.exists():
            return [f"the public tests did not run (pytest exit {finished.returncode})"]
        return _failed_cases(junit)


def _failed_cases(junit: Path) -> list[str]:
    failed = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            module = case.get("classname", "").rsplit(".", 1)[-1]
            failed.append(f"{module}.py::{case.get('name')}")
    return failed


# --- 3. the zip and its manifest ---------------------------------------------------------------


def pack(out: Path) -> list[str]:
    """Write `out` with assignment/*.py (regular files only) and the manifest; return the names."""
    files = {f"assignment/{p.name}": p for p in sorted((ROOT / "assignment").glob("*.py")) if p.is_file() and not p.is_symlink()}
    if WRITTEN.is_file() and not WRITTEN.is_symlink():
        files[WRITTEN.name] = WRITTEN
    digests = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, path in files.items():
            zipped.write(path, name)
        zipped.writestr(MANIFEST, json.dumps({"sha256": digests}, indent=2) + "\n")
    return list(digests)


def written_notes() -> None:
    """The written part is graded from written.toml (15 points): say whether it is there and complete."""
    if not WRITTEN.is_file():
        print(f"\nWRITTEN PART: no {WRITTEN.name} beside assignment/ (15 points): `python questions.py LOGIN` prints your questions.")
        return
    import questions  # the bundle's questions.py: draws numbers and reads answers files, computes no answer

    notes = questions.check(WRITTEN.read_text(encoding="utf-8", errors="replace"))
    print(f"\nWRITTEN PART ({WRITTEN.name}): " + ("every question answered." if not notes else f"{len(notes)} note(s):"))
    for note in notes:
        print(f"  - {note}")


def verdict(problems: list[str], failures: list[str], skipped_tests: bool) -> int:
    if problems:
        print(f"\nMISSING OR CHANGED ({len(problems)}): the grader's tests of these will fail and lose points:")
        for problem in problems:
            print(f"  - {problem}")
    if failures:
        print(f"\nFAILING PUBLIC TESTS ({len(failures)}): each one loses points:")
        by_file: dict[str, list[str]] = {}
        for failure in failures:
            by_file.setdefault(failure.split("::")[0], []).append(failure.split("::", 1)[-1])
        for file, tests in by_file.items():
            more = f" and {len(tests) - 3} more" if len(tests) > 3 else ""
            print(f"  - {file}: {len(tests)} failing: {', '.join(tests[:3])}{more}")
    if problems or failures:
        print("\nNOT READY: fix the above to keep those points (submission.zip was written anyway).")
        return 1
    tests = "tests were skipped (--skip-tests)" if skipped_tests else "every public test passes"
    print(f"\nREADY: every name and signature is there and {tests}. Hand in submission.zip.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
