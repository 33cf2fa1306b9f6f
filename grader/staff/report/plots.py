"""The class report's two plots, as PNG bytes (matplotlib, Agg: no display needed).

Figures are made with matplotlib.figure.Figure, not pyplot: no global state, nothing to close.
"""

from __future__ import annotations

import base64
import io
import matplotlib


matplotlib.use("Agg")  # before anything else of matplotlib loads a backend

from matplotlib.figure import Figure  # noqa: E402

BLUE, GREEN, GREY = "#3b6ea8", "#4c9a5a", "#d5d9e0"


def score_histogram(students) -> bytes:
    """Students per 10% band of their score (as a percentage of what this run graded)."""
    percents = [100 * s.total / s.max_total for s in students if s.max_total]
    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.hist(percents, bins=range(0, 101, 10), color=BLUE, edgecolor="white")
    axes.set_xlim(0, 100)
    axes.set_xticks(range(0, 101, 10))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("score (% of the points graded)")
    axes.set_ylabel("students")
    axes.set_title(f"Scores ({len(percents)} students)")
    _tidy(axes)
    return _png(figure)


def pass_rates(problems: list[dict]) -> bytes:
    """Per problem: the share of its tests that passed, over all graded students."""
    figure = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    axes = figure.subplots()
    names = [p["module"] for p in problems]
    rates = [100 * p["pass_rate"] for p in problems]
    axes.barh(names, [100] * len(names), color=GREY)  # the track behind each bar reads as 100%
    bars = axes.barh(names, rates, color=GREEN)
    axes.bar_label(bars, labels=[f"{r:.0f}%" for r in rates], padding=3)
    axes.invert_yaxis()  # problem 1 on top
    axes.set_xlim(0, 112)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel("tests passed (%)")
    axes.set_title("Pass rate per problem")
    _tidy(axes)
    return _png(figure)


def _tidy(axes) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No metadata: the same class gives byte-identical plots (a regrade diff shows only real changes).
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """The PNG inlined, so the HTML page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
