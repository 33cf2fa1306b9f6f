"""A pytest plugin for the staff tools: run the suites in-process on OUR code (a slip, a mutant, the
reference), keep its replies as grading would (grader/core/replies.py) and, at the end, write the
hints grading would give (as if every problem that ran had lost points) as JSON.

    pytest -p grader.staff.qa.record_plugin --impl FOLDER --record-hints OUT.json tests/public/test_M.py ...

Never used on student code: students are graded in the sandbox, where RemoteImpl records.
"""

from __future__ import annotations

from pathlib import Path

import json

import pytest

from grader.core import hints
from grader.core.replies import RecordingImpl, Replies
import seam


def pytest_addoption(parser):
    parser.addoption("--record-hints", default=None, help="write the hints the replies give to this JSON file")
    parser.addoption("--record-seed", type=int, default=0, help="the replies' sample seed")
    parser.addoption("--check-library", action="store_true", help="with the reference: each mutant's hints on its requests instead")


class _Recorder:
    def __init__(self, config):
        self.out = Path(config.getoption("--record-hints"))
        self.replies = Replies(seed=config.getoption("--record-seed"))
        self.library = config.getoption("--check-library")
        self.impl: RecordingImpl | None = None
        self.failed: set[str] = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_make_impl(self, config):
        if self.impl is None:
            spec = config.getoption("--impl") or config.getini("impl_default")
            self.impl = RecordingImpl(seam.load_in_process(spec, Path(str(config.rootpath))), self.replies)
        return self.impl

    def pytest_runtest_call(self, item):
        """The test's problem and visibility (the impl fixture exists by now: setup made it)."""
        if self.impl is not None:
            problem = next((m.name for m in item.iter_markers() if m.name in seam.MODULES), None)
            self.impl.begin(problem, "/public/" in item.path.as_posix(), item.nodeid)

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_sessionfinish(self, session):
        problems = sorted({reply.problem for replies in self.replies.groups.values() for reply in replies})
        if self.library:
            found = {p: hints.library_check(p, self.replies.of_problem(p)) for p in problems}
        else:
            found = hints.hints_for({problem: "public" for problem in problems}, self.replies)
        self.out.write_text(json.dumps({"hints": found, "failed": sorted(self.failed)}))


def pytest_configure(config):
    if config.getoption("--record-hints"):
        config.pluginmanager.register(_Recorder(config), "replies-recorder")
