"""`python -m grader release OUT`: the student bundle, checked for leaks (trusted side)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


from grader.commands import make_console
from grader.staff.course import config, logistics
from grader.staff.release import behaviour, bundling, install_check, leak_check


def register(commands) -> None:
    parser = commands.add_parser(
        "release",
        help="build the student bundle (folder + .zip) and fail if anything of the staff's side leaked into it",
        description="Write the student bundle to the folder OUT and to OUT.zip: assignment/ stubs, "
        "tests/public/ and the test support files it imports, handout.md, a student pyproject.toml "
        "and README (plain `pytest` runs the public suite on their assignment/). Then the leak checks: "
        "the release fails (exit 1, OUT removed) if a function body equals one of solutions/ or "
        "tests/hidden/, a file equals a solution, hidden-test, data or rubric file, a hidden test's name "
        "appears, anything imports solutions, a shipped line spells a formula or an answer the students "
        "must derive (grader/staff/release/rules.toml), or a function of the bundle can stand in for an API "
        "function (it passes that function's public tests, or gives the reference's answers to them; "
        "about half a minute). rules.toml's [[allow]] entries excuse named leaks. "
        "--check-install also unzips the bundle into a fresh "
        "virtual environment, runs `pip install -e` on it and its `pytest`, which must run the public "
        "suite and fail (the stubs).",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="the bundle folder to write (OUT.zip beside it)")
    parser.add_argument("--handout", type=Path, default=bundling.HANDOUT, help="the handout to ship (default: handout.md)")
    parser.add_argument(
        "--config", type=Path,
        help="course.toml: the handout's logistics ([course], [late], [policies]) and the written part's term "
        "([course] term: give `grade` the same file); without it, marked defaults",
    )
    parser.add_argument("--force", action="store_true", help="replace OUT and OUT.zip if they exist")
    parser.add_argument("--check-install", action="store_true", help="also install and run the bundle in a fresh venv (a minute or two)")
    parser.add_argument("--no-behaviour-check", action="store_true",
                        help="skip the behavioural leak check (a quick rebuild; never for a bundle you hand out)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    try:
        course = config.load(args.config)
        _, defaults = logistics.render(args.handout.read_text(), course) if args.handout.is_file() else ("", [])
    except (config.ConfigError, logistics.HandoutError) as error:
        console.print(f"[red]{error}", highlight=False)
        return 2
    out = args.out.resolve()
    if out.exists() or out.with_suffix(".zip").exists():
        if not args.force:
            console.print(f"[red]{out} or its .zip exists: pass --force to replace them")
            return 2
        shutil.rmtree(out, ignore_errors=True)
        out.with_suffix(".zip").unlink(missing_ok=True)
    try:
        folder, archive = bundling.build_bundle(out, args.handout, course)
    except FileNotFoundError as error:
        console.print(f"[red]{error}")
        return 2
    leaks = leak_check.find_leaks(folder)
    # Reference code out first: the probe runs the bundle's code.
    probed = not leak_check.allowed(leaks)[0] and not args.no_behaviour_check
    if probed:
        with console.status("behavioural leak check: can a function of the bundle stand in for the API? ..."):
            found, figures = behaviour.find_behaviour_leaks(folder)
        leaks += found
        if figures:
            checked = figures["checked"]
            console.print(f"behavioural check: {checked['candidates']} functions of the bundle tried in place of "
                          f"{checked['targets']} API functions ({checked['pairs']} signatures fit, "
                          f"{checked['test_runs']} public-test runs), {figures['seconds']} s")
    leaks, excused, stale = leak_check.allowed(leaks)
    stale = [entry for entry in stale if probed or entry["kind"] not in behaviour.BEHAVIOUR_KINDS]
    for leak in excused:
        console.print(f"  [yellow]allowed (rules.toml)[/]: {leak}", highlight=False)
    for entry in stale:
        console.print(f"  [yellow]rules.toml: an \\[\\[allow]] entry excused nothing, delete it:[/] "
                      f"{entry['kind']} {entry['where']} ({entry['why']})", highlight=False)
    if leaks:
        # A leaky bundle must not be handed out by mistake: it is removed, the report stays.
        shutil.rmtree(folder)
        archive.unlink()
        console.print(f"[red bold]RELEASE FAILED: {len(leaks)} leak(s) of the staff's side into the bundle:")
        for leak in leaks:
            console.print(f"  [red]{leak}", highlight=False)
        if not probed and not args.no_behaviour_check:
            console.print("the behavioural check did not run: fix the leaks above first")
        return 1
    skipped = " (behavioural check skipped)" if args.no_behaviour_check else ""
    console.print(f"[green]no leaks[/]{skipped}: {folder} and {archive}")
    if defaults:
        console.print(f"the handout's logistics use their defaults for: {', '.join(defaults)} "
                      "(set them in course.toml's [course], [late] and [policies], and pass --config)", style="yellow", markup=False)
    console.print(f"written part: numbers drawn with the term {course.term!r}; grade with the same --config", markup=False)
    if args.check_install:
        with console.status("installing the bundle in a fresh venv and running its pytest ..."):
            check = install_check.check_install(archive)
        console.print(f"steps (seconds): {check.seconds}")
        if not check.ok:
            console.print(f"[red bold]INSTALL CHECK FAILED: {check.message}\n{check.output}", highlight=False)
            return 1
        console.print(f"[green]install check passed[/]: {check.message}")
    return 0
