"""A pytest plugin: each failure's traceback without re-parsing the suites (grading, staff runs, and students' own `pytest`).

To print one line of a traceback entry, pytest finds the statement around it: it parses the
entry's whole file and walks the tree (`_pytest._code.source.getstatementrange_ast`), again for
every entry of every failure. The hidden suites are long files, so a submission that fails most
tests (the stubs: ~580 failures) spent half its grade there: 28 s of a 53 s sandboxed grade.

The suites do not change during a session, so the answer for one (file text, line) is the same
every time: this plugin keeps it, and each file's tree once. Nothing else changes; the report
text is what pytest would print. Where pytest's internals differ from what this expects, it
leaves them alone and pytest is only slower.
"""

from __future__ import annotations

import ast
import warnings

_PATCHED: list[tuple[object, str, object]] = []  # (module, name, original): put back at unconfigure


def _memoised(original):
    trees: dict[tuple[str, ...], ast.AST] = {}
    answers: dict[tuple, tuple] = {}

    def getstatementrange_ast(lineno, source, assertion=False, astnode=None):
        lines = tuple(source.lines)
        key = (lines, lineno, assertion)
        if key not in answers:
            if lines not in trees:
                with warnings.catch_warnings():  # as pytest does: a file's warnings once, not per failure
                    warnings.simplefilter("ignore")
                    trees[lines] = astnode if astnode is not None else ast.parse("\n".join(lines), "source", "exec")
            answers[key] = original(lineno, source, assertion, trees[lines])
        return answers[key]

    return getstatementrange_ast


def pytest_configure(config) -> None:
    try:
        from _pytest._code import code, source
    except ImportError:
        return
    original = getattr(source, "getstatementrange_ast", None)
    if original is None or getattr(code, "getstatementrange_ast", None) is not original:
        return
    fast = _memoised(original)
    for module in (code, source):
        _PATCHED.append((module, "getstatementrange_ast", original))
        module.getstatementrange_ast = fast


def pytest_unconfigure(config) -> None:
    while _PATCHED:
        module, name, original = _PATCHED.pop()
        setattr(module, name, original)
