"""Hypothesis profiles: one fast for students, one deterministic for grading.

`grading` is built on hypothesis's own `ci` profile (derandomized, no database, no
deadline) without replacing it: registering a profile named `ci` would.
"""

from hypothesis import HealthCheck, Phase, settings


def register() -> None:
    ci = settings.get_profile("ci")
    settings.register_profile(
        "grading",
        parent=ci,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        max_examples=60,
        # Every phase but `explain`: it re-runs a failing test to comment which parts of the input
        # did not matter, which feedback does not show and a submission failing most tests paid
        # for per test (the stubs' in-process run: 26 s with it, 21 s without).
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    # The project's own CI and staff runs: the grading settings, so they see what students get.
    settings.register_profile("dev", parent=settings.get_profile("grading"))
    settings.register_profile(
        "student",
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )


def load(name: str) -> None:
    settings.get_profile(name)  # an unknown name raises InvalidArgument, naming it
    settings.load_profile(name)
