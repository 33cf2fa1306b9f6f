"""Trusted side (staff tooling): the names students see for their tests, the same everywhere.

A public test is named by its function ("test_view_matches_torch"); a hidden test by its number
within its problem ("hidden test 3"), counted in results.json's order: its function's name is the
staff's and may say what it looks for. The feedback pages (grader/staff/report/) and the results
Gradescope shows (grader/staff/grading/gradescope.py) both name tests through here, so a student who
reads both sees one name per test. No dependency beyond the standard library: it runs inside
Gradescope's container too.
"""

from __future__ import annotations


def is_visible(test: dict) -> bool:
    return test.get("visibility") == "visible"


def shown_names(tests: list[dict]) -> list[str]:
    """Each test's name as students see it, in the order given."""
    counters: dict[str, int] = {}
    names = []
    for test in tests:
        if is_visible(test):
            names.append(str(test["name"]).rsplit(": ", 1)[-1])
            continue
        problem = (test.get("tags") or [""])[0]
        counters[problem] = counters.get(problem, 0) + 1
        names.append(f"hidden test {counters[problem]}")
    return names


def for_gradescope(results: dict) -> dict:
    """results.json as Gradescope shows it: each hidden test named "TITLE: hidden test N", as its feedback page names it."""
    tests = results.get("tests") or []
    for test, shown in zip(tests, shown_names(tests)):
        if not is_visible(test):
            title = str(test["name"]).rsplit(": ", 1)[0] if ": " in str(test["name"]) else (test.get("tags") or [""])[0]
            test["name"] = f"{title}: {shown}"
    return results
