"""`python -m grader COMMAND ...`: the course staff's commands (trusted side).

Each command lives in grader/commands/NAME.py and registers itself; `--help` on any
command explains it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shlex
import sys

from grader import commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    given = sys.argv[1:] if argv is None else argv
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__))
    # Each module registers the command of its name: where the first argument names one, only its module
    # is imported (`report`'s imports take torch and matplotlib, seconds that every other command would pay).
    for module in [given[0]] if given and given[0] in names else names:
        importlib.import_module(f"grader.commands.{module}").register(subparsers)
    args = parser.parse_args(argv)
    args.command_line = "python -m grader " + shlex.join(given)  # to resume, or to say what ran
    return args.run(args)
