"""The grading service (grader/core/service.py): torch imported once, a fresh grading process per
submission, and nothing else changed: the same results files, the same walls, the same rule
that no zygote is forked from a process that held the reference, the suites or the rubric.
"""

import ast
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.core import results, zygote_fork
from grader.core.limits import Limits
from grader.core.machine import isolation_level
from grader.core import variants
from grader.core.suites import QUICKEST
from grader.staff.grading.executors import grade_in_subprocess
from grader.staff.grading.gradebook import Gradebook
from seam import REPO_ROOT
from tests.project.walls_driver import running

pytestmark = [pytest.mark.project, pytest.mark.timeout(600)]
needs_sandbox = pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")

LIMITS = Limits(call_seconds=8, test_seconds=30, submission_seconds=300)


# --- the same files as the per-process grader ------------------------------------------------

# A correct submission, a partly wrong one, and two hostile ones (a crash, flags), each on one problem.
PARITY = [
    ("correct", "strides", None),
    ("partial", "tensors", None),
    ("segfault_in_call", None, "hostile"),
    ("cheat_import_solutions", None, "hostile"),
]


def build(name: str, problem: str | None, kind: str | None, where: Path) -> tuple[Path, list[str]]:
    if kind is None:
        return REPO_ROOT / "examples" / "submissions" / name, [problem]
    variant = next(v for v in variants.load_hostile() if v.name == name)
    return variant.build(where / name), variants.affected_problems(variant)


@needs_sandbox
@pytest.mark.parametrize("name, problem, kind", PARITY, ids=[p[0] for p in PARITY])
def test_the_service_writes_what_the_per_process_grader_writes(grading_service, name, problem, kind, tmp_path):
    """Scores, flags, outputs, both results files: byte for byte what `python -m grader.core.grade`
    writes for the same submission, but for the timings (`results.without_run_details`)."""
    submission, problems = build(name, problem, kind, tmp_path)
    alone, served = tmp_path / "alone" / "results.json", tmp_path / "served" / "results.json"
    assert grade_in_subprocess(submission, alone, LIMITS, False, problems)["ok"]
    assert grading_service.grade(submission, served, LIMITS, False, problems)["ok"]
    differ = results.differences(served, alone)  # each path with the served value, then the per-process one
    assert not differ, "; ".join(f"{path}: {a!r:.300} | {b!r:.300}" for path, (a, b) in list(differ.items())[:5])


def test_only_what_differs_run_to_run_is_left_out():
    """Timings, addresses, the hint seed and where a cut log tail starts go; scores, statuses,
    outputs and flags stay, timings in them included (a test's message is what the student sees)."""

    def grade(seconds: float, address: int) -> tuple[dict, dict]:
        log = "".join(f"line {n} <function f at 0x{address + n:x}>\n" for n in range(1000))  # cut: over LOG_TAIL_CHARS
        tail = (log + f"5 passed in {seconds:.2f}s" + (f" (0:01:{seconds - 60:02.0f})" if seconds >= 60 else ""))[-results.LOG_TAIL_CHARS:]
        kept = {"score": 1, "tests": [{"status": "failed", "output": f"took {seconds} s", "extra_data": {"key": "k", "seconds": seconds}}]}
        return ({**kept, "execution_time": seconds}, {"pytest_log_tail": tail, "hint_seed": address, "integrity_flags": [{"kind": "timeout"}]})

    first, second = grade(9.5, 0x7f00), grade(85.25, 0x55aa00)
    assert results.without_run_details(first[1]) == results.without_run_details(second[1])
    assert results.without_run_details(first[0])["tests"][0] == {"status": "failed", "output": "took 9.5 s", "extra_data": {"key": "k"}}
    assert results.without_run_details(first[0]) != results.without_run_details(second[0])  # the output's own timing stays


def test_differences_name_each_path_with_both_values(tmp_path):
    """What a parity check reports: the key paths where two grades' files differ, with both values."""
    for name, output, flag, seconds in (("a", "took 1 s", {}, 1.0), ("b", "took 2 s", {"kind": "exit"}, 2.0)):
        folder = tmp_path / name
        folder.mkdir()
        data = {"score": 1, "execution_time": seconds, "tests": [{"output": output, "extra_data": {"seconds": seconds}}]}
        (folder / "results.json").write_text(json.dumps(data))
        (folder / "results.staff.json").write_text(json.dumps({"hint_seed": seconds, "integrity_flags": [flag]}))
    assert results.differences(tmp_path / "a" / "results.json", tmp_path / "b" / "results.json") == {
        "results.json.tests[0].output": ("took 1 s", "took 2 s"),
        "staff.integrity_flags[0]": ({}, results.MISSING),
        "staff.integrity_flags[0].kind": (results.MISSING, "exit"),
    }


# --- the rule: no zygote from a process that held the reference, the suites or the rubric ---


def hidden_test_names() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "tests" / "hidden").glob("test_*.py"):
        names.update(n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
    return names


SECRETS = hidden_test_names() | {f"{REPO_ROOT / folder}/" for folder in ("solutions", "tests/hidden", "tests/oracles", "tests/public")}


def found_in_memory(pid: int, needles: set[str]) -> set[str]:
    """Which of `needles` are anywhere in process `pid`'s readable memory."""
    pattern = re.compile(b"|".join(re.escape(n.encode()) for n in sorted(needles)))
    heads = {n.encode()[:5] for n in needles}  # where a needle can start: "test_", the checkout's path
    found: set[str] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as memory:
        for line in maps:
            span, permissions = line.split()[:2]
            if "r" not in permissions or line.rstrip().endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                memory.seek(start)
                chunk = memory.read(end - start)
            except (OSError, OverflowError, ValueError):
                continue
            # pattern.finditer's matches, tried only where a head starts: bytes.find skips the rest of a
            # torch-sized memory ~10x faster than the regex does, and finds the same needles.
            past = 0  # the end of the last match: finditer never overlaps two
            for at in sorted(at for head in heads for at in _occurrences(chunk, head)):
                match = pattern.match(chunk, at) if at >= past else None
                if match:
                    found.add(match.group().decode())
                    past = match.end()
    return found


def _occurrences(data: bytes, needle: bytes):
    at = data.find(needle)
    while at >= 0:
        yield at
        at = data.find(needle, at + 1)


def test_the_service_holds_nothing_of_the_reference_the_suites_or_the_rubric(grading_service):
    """What every grading process (and so every zygote) inherits: no hidden test's name, no path into
    the reference or the suites; a process that loaded them (the control) shows all of them."""
    grading_service.start()
    assert found_in_memory(grading_service.pid(), SECRETS) == set()
    control = subprocess.Popen(
        [sys.executable, "-c", "import solutions.tensors, tests.oracles, tests.public.test_tensors, tests.hidden.test_tensors_hidden; from grader.core import rubric; "
         "kept = rubric.load(); print('loaded', flush=True); import time; time.sleep(120)"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert control.stdout.readline().strip() == "loaded"
        assert found_in_memory(control.pid, SECRETS) == SECRETS
    finally:
        control.kill()
        control.wait()


def test_no_fork_once_the_suites_are_loaded():
    """The check the service runs before every fork, and the sandbox before forking a zygote: this
    test process holds pytest (and the suites), so neither may fork from it."""
    assert "pytest" in sys.modules
    with pytest.raises(RuntimeError, match="the grading service must start before the grader loads"):
        zygote_fork.refuse_secrets("the grading service")


# --- a crash costs one submission, never the batch -------------------------------------------


def grading_process_of(student_folder: Path, wait: float = 300) -> int:
    """The pid of the grading process grading `student_folder` (its command line says so), once it runs tests."""
    deadline, title = time.monotonic() + wait, f"grading {student_folder}".encode()
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(title):
                    return int(entry.name)
            except OSError:
                continue
        time.sleep(0.1)
    raise AssertionError(f"no grading process for {student_folder}")


@needs_sandbox
def test_a_crashed_grading_process_costs_its_submission_a_grader_error_and_a_retry(tmp_path):
    """One grading process killed mid-way (as a crash of the trusted side would end it): that student
    is a grader error, the others are graded by the same batch, and the next run grades the one left."""
    klass = tmp_path / "class"
    for student in ("a", "b"):
        variants.reference_into(klass / student)
    command = [sys.executable, "-m", "grader", "grade", str(klass), "--out", str(tmp_path / "out"), "--only", QUICKEST,
               "--skip-canary", "--jobs", "1", "--call-timeout", "8", "--test-timeout", "30"]
    batch = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = grading_process_of(klass / "a")
    # Stopped where it was found (grading, its title set), so that it cannot finish first; the
    # SIGSEGV waits for SIGCONT and ends it then: the trusted grader itself crashing.
    for signal_name in ("-STOP", "-SEGV", "-CONT"):
        subprocess.run(["kill", signal_name, str(victim)], check=True)
    stdout, stderr = batch.communicate(timeout=600)
    assert batch.returncode == 1, stdout[-3000:] + stderr[-3000:]
    assert "grader error" in stdout and "killed by signal 11 (SIGSEGV)" in " ".join(stdout.split())
    book = Gradebook(tmp_path / "out" / "gradebook.sqlite")
    assert book.submission("a")["status"] == "grader error"
    assert book.submission("b")["status"] == "graded" and book.submission("b")["score"] == book.submission("b")["max_score"]
    book.close()
    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "1 to grade, 1 already graded" in " ".join(again.stdout.split()), again.stdout[-3000:]


@needs_sandbox
def test_a_stopped_service_ends_every_grading_process_at_once(tmp_path):
    """`stop` (what Ctrl-C or SIGTERM does to a batch) ends the service and the grading in flight
    within a second; the submission in flight is a grader error, and the service grades no more."""
    from grader.core.service import GradingService

    submission = tmp_path / "ref"
    variants.reference_into(submission)
    service = GradingService(problems=["tensors"])
    service.start()
    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(service.grade, submission, tmp_path / "out" / "results.json", LIMITS, False, ["tensors"])
        grading = grading_process_of(submission)
        started = time.monotonic()
        service.stop()
        took = time.monotonic() - started
        while running(grading) and time.monotonic() < started + 1.0:  # SIGKILLed: a loaded machine may take a moment to end it
            time.sleep(0.01)
        gone = not running(grading)
        assert not outcome.result(timeout=60)["ok"]
    assert took < 1.0 and gone
    later = service.grade(submission, tmp_path / "later" / "results.json", LIMITS, False, ["tensors"])
    assert not later["ok"] and "stopped" in later["error"]
