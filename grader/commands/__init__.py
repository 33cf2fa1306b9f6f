"""The CLI's commands, one module per `python -m grader` command (each has `register(subparsers)`); what several share."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console


def make_console() -> Console:
    """The commands' console: lines wrap at the terminal's width (80 without one: the tests hold the
    output to it). A path a reader must copy whole is printed with soft_wrap=True where it is said."""
    return Console(highlight=False)


def open_gradebook(path: Path, console: Console):
    """The gradebook at `path`, or None after saying there is none (or that this grader cannot use it)."""
    from grader.staff.grading.gradebook import Gradebook, GradebookError

    if not path.is_file():
        console.print(f"no gradebook at {path}: run `python -m grader grade` first, or pass --gradebook PATH", style="red", markup=False)
        return None
    try:
        return Gradebook(path)
    except GradebookError as error:
        console.print(str(error), style="red", markup=False)
        return None


def with_gradebook(action):
    """A command's `run(args)` that reads the gradebook at args.gradebook: opens it (or says why it
    cannot: exit 2), returns `action(args, console, book)`, and closes it whatever happens."""

    def run(args) -> int:
        console = make_console()
        book = open_gradebook(args.gradebook, console)
        if book is None:
            return 2
        try:
            return action(args, console, book)
        finally:
            book.close()

    return run
