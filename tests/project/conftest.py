"""Fixtures of the kit's own tests."""

import os

import pytest

from grader.core.service import GradingService
from grader.staff.grading.executors import threads_per_job


def pytest_configure(config):
    """Torch's threads shared out between xdist's workers, as `grade --jobs N` shares the cores
    between its grading processes (grader/staff/grading/executors.py). With torch's default, two
    workers grading at once ask 2 cores for 4 threads each step, and OpenMP's threads spin while
    they wait for one another: more CPU for the same grade (README, "Measured"). The
    environment is what the grades started from here inherit (the service, `python -m grader`,
    the suites' pytest runs); a thread count set outside is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = threads_per_job(workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)  # this process imported torch before it read the variable


def pytest_collection_modifyitems(config, items):
    """The most expensive modules first (`slow`, then `e2e`), each module's tests kept together and in
    order: under xdist a long group that starts last keeps one worker busy while the other idles;
    quick tests last fill the gaps. (A stable sort: within a rank, files keep pytest's order.)"""
    rank: dict[str, int] = {}
    for item in items:
        here = 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("e2e") else 2
        rank[item.path] = min(here, rank.get(item.path, 2))
    items.sort(key=lambda item: rank[item.path])


@pytest.fixture(scope="session")
def grading_service():
    """One grading service per test process (grader/core/service.py): torch and the grader imported
    once, every submission graded by a fresh process forked from it, as `python -m grader grade`
    grades a class. Tests that change the grader's environment first use `grade_in_subprocess`."""
    with GradingService() as service:
        yield service


@pytest.fixture(scope="session")
def graded(grading_service):
    """grade(submission, out_folder, modules, limits): results.json's data from the session's grading
    service (the grade must have run: a grader error fails the test with its message)."""

    def grade(submission, out, modules, limits) -> dict:
        outcome = grading_service.grade(submission, out / "results.json", limits, allow_weak=False, modules=modules)
        assert outcome["ok"], outcome.get("error")
        return outcome["results"]

    return grade
