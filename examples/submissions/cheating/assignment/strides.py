# DO NOT import outside the grader sandbox: at import this module tries to import the
# reference solution and to read the hidden tests from disk.
"""Problem 2 -- a cheating submission: its own code is stubs; it tries to borrow the reference."""

from __future__ import annotations

import os


def contiguous_strides(shape):
    raise NotImplementedError


def flat_offset(index, strides, storage_offset=0):
    raise NotImplementedError


def is_contiguous(shape, strides):
    return True


def transpose(shape, strides, dim0, dim1):
    raise NotImplementedError


def narrow(shape, strides, storage_offset, dim, start, length):
    raise NotImplementedError


def view(shape, strides, new_shape):
    return None


def shares_storage(a, b):
    return False


def _candidate_roots():
    roots = []
    for start in (os.path.dirname(os.path.abspath(__file__)), os.getcwd()):
        d = start
        while d not in roots:
            roots.append(d)
            d = os.path.dirname(d)
    return roots + ["/work/main", "/autograder/source"]


# 1. The reference, if the grader left it importable (falls back to the stubs above).
try:
    from solutions.strides import *  # noqa: F401,F403
except ImportError:
    pass

# 2. The hidden tests, read straight from disk and printed for later.
for _root in _candidate_roots():
    for _name in ("conftest.py", "test_strides.py", "__init__.py"):
        try:
            with open(os.path.join(_root, "tests", "hidden", _name), encoding="utf-8") as _handle:
                print(_handle.read()[:5000])
        except OSError:
            pass
