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
    for module in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
        importlib.import_module(f"grader.commands.{module}").register(subparsers)
    args = parser.parse_args(argv)
    args.command_line = "python -m grader " + shlex.join(sys.argv[1:] if argv is None else argv)  # to resume, or to say what ran
    return args.run(args)
