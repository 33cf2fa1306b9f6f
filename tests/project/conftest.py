"""Fixtures of the kit's own tests."""

import pytest

from grader.core.service import GradingService


@pytest.fixture(scope="session")
def grading_service():
    """One grading service per test process (grader/core/service.py): torch and the grader imported
    once, every submission graded by a fresh process forked from it, as `python -m grader grade`
    grades a class. Tests that change the grader's environment first use `grade_in_subprocess`."""
    with GradingService() as service:
        yield service
