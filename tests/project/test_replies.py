"""What the worker sends back about itself is a claim, typed and bounded on arrival (issue 17).

Flags come from a fixed vocabulary with caps per reply, test and submission; a hidden test is
"hidden test N" to the student, never its id; an import failure is the trusted side's finding;
results.json and the staff file stay under 1 MiB whatever the worker sends. (The hostile
variants that attack each of these are graded end to end in test_sandbox.py.)
"""

import json
from types import SimpleNamespace

import pytest

from grader.core import flags, results, rubric
from grader.core.remote import import_diagnosis
from grader.core.faults import as_exception, stopped_call
from grader.core.sandbox import Sandbox
from grader.staff.report.class_results import StudentResult
from grader.staff.report.feedback import feedback_for

pytestmark = pytest.mark.project


def test_a_kind_outside_the_workers_vocabulary_is_kept_as_unknown_kind_with_its_text_for_staff():
    log = flags.FlagLog()
    log.add_reported([{"kind": "LEAKED contiguous_strides((5, 1, 1, 3),)", "detail": "x"}], "t", hidden=True)
    log.add_reported([{"kind": "tamper", "detail": "a worker cannot raise the trusted side's kinds"}], "t", hidden=False)
    log.add_reported([{"kind": "patched", "detail": "builtins.len"}, "not a dict", {"kind": ["a list"]}], "t", hidden=False)
    kinds = [entry["kind"] for entry in log.entries()]
    assert kinds == ["unknown-kind", "unknown-kind", "patched", "unknown-kind", "unknown-kind"]
    assert "contiguous_strides((5, 1, 1, 3),)" in log.entries()[0]["detail"]  # staff still read what was sent
    assert {entry["source"] for entry in log.entries()} == {"worker"}
    log.add("tamper", "gc.get_objects in strides.py", None)  # the trusted side may
    assert log.entries()[-1]["kind"] == "tamper" and set(flags.KINDS) >= {"tamper", "unknown-kind", "too-many-flags"}


def test_flags_are_bounded_per_reply_per_test_and_per_submission():
    log = flags.FlagLog()
    log.add_reported([{"kind": "patched", "detail": f"{i}" + "x" * 60_000} for i in range(500)], "one test", hidden=False)
    assert len(log.kept) == flags.MAX_PER_TEST and log.dropped == 500 - flags.MAX_PER_TEST
    assert all(len(entry["detail"]) <= flags.MAX_DETAIL_CHARS for entry in log.kept)
    for test in range(100):
        log.add_reported([{"kind": "network", "detail": f"{test}-{i}"} for i in range(30)], f"test {test}", hidden=False)
    assert len(log.kept) == flags.MAX_PER_SUBMISSION
    summary = log.entries()[-1]
    assert summary["kind"] == "too-many-flags" and f"{log.dropped} more" in summary["detail"]
    assert len(json.dumps(log.entries())) < 100 * 1024


def test_the_student_sees_a_hidden_tests_flag_as_its_kind_and_hidden_test_n():
    log = flags.FlagLog()
    hidden_id = "tests/hidden/test_strides_hidden.py::test_narrow_errors_match_torch[2-0-1-IndexError]"
    log.add_reported([{"kind": "exit", "detail": "status 103"}], hidden_id, hidden=True)
    log.add_reported([{"kind": "exit", "detail": "status 7"}], "tests/public/test_strides.py::test_view[x]", hidden=False)
    log.add("timeout", "a call ran over 8 s", None, hidden=True)  # after the suites: the hint probes
    shown = log.for_student({hidden_id: "hidden test 6 (strides)"})
    assert shown[0] == {"kind": "exit", "detail": flags.HIDDEN_DETAIL, "test": "hidden test 6 (strides)"}
    assert shown[1] == {"kind": "exit", "detail": "status 7", "test": "tests/public/test_strides.py::test_view[x]"}
    assert shown[2] == {"kind": "timeout", "detail": flags.HIDDEN_DETAIL, "test": None}
    assert "status 103" in json.dumps(log.entries()) and "status 103" not in json.dumps(shown)


def test_hidden_tests_are_numbered_as_the_feedback_numbers_them():
    the_rubric = rubric.load()
    cases = [SimpleNamespace(nodeid=f"{key}[case]", key=key, module=module) for key, module in the_rubric.problem_of.items()]
    names = results.hidden_test_names(the_rubric, cases)
    scores = [rubric.TestScore(key, module, 0.0, points, "failed", "", key.startswith("public/"), 0.0)
              for (key, points), module in zip(the_rubric.points.items(), the_rubric.problem_of.values())]
    data = results.build(the_rubric, scores, seconds=0, summary="", extra={})
    shown = {}
    for section in feedback_for(StudentResult("s", data)):
        hidden = [t for t in data["tests"] if t["tags"] == [section["module"]] and t["visibility"] != "visible"]
        feedback = [t for t in section["failed"] if not t.visible]
        shown.update((test["extra_data"]["key"], f"{fb.name} ({section['module']})") for test, fb in zip(hidden, feedback))
    assert len(names) == len(shown) > 50
    assert all(names[f"{key}[case]"] == name for key, name in shown.items())


def test_results_files_stay_under_one_mebibyte_whatever_their_strings_hold():
    data = {
        "tests": [{"output": "\x00" * 6000, "score": 1} for _ in range(100)],  # 6 bytes of JSON a character
        "output": "\U0001F600" * 70_000,  # 12 bytes of JSON a character
        "extra_data": {"flags": [{"kind": "patched", "detail": "x" * 300}] * 100},
    }
    assert len(json.dumps(data, indent=2)) > 4 * 2**20
    bounded = results.bounded(data)
    assert len(json.dumps(bounded, indent=2)) <= results.MAX_FILE_BYTES < 2**20
    assert bounded["tests"][0]["score"] == 1 and bounded["extra_data"]["flags"][0] == data["extra_data"]["flags"][0]
    assert results.CUT in bounded["output"] and bounded["output"].startswith("\U0001F600")
    small = {"output": "fits"}
    assert results.bounded(small) is small


def test_an_import_failure_is_diagnosed_from_the_staged_source_where_it_can_be():
    sources = {"tensors": "def f(:\n    pass\n", "strides": "x = 1\n", "flops": "x = " + "-" * 7000 + "1\n"}
    assert import_diagnosis("model", sources) == "assignment/model.py is missing"
    assert import_diagnosis("tensors", sources) == "assignment/tensors.py failed to import: SyntaxError: invalid syntax (line 1)"
    assert import_diagnosis("strides", sources) is None  # only running it would tell
    assert import_diagnosis("flops", sources) is None  # the parser's MemoryError is no diagnosis, and no crash


def test_an_error_reply_is_cut_to_its_bounds_and_its_type_name_decides_nothing():
    sandbox = Sandbox.__new__(Sandbox)
    sandbox.flags = flags.FlagLog()
    error = {"builtin": "ImportError", "type": "ImplementationImportError" * 10_000, "message": "m" * 100_000, "traceback": "t" * 100_000}
    raised = as_exception(error, sandbox, None)
    assert type(raised) is ImportError and len(str(raised)) == 2000 and len(raised.submission_type) == 100
    assert len("".join(raised.__notes__)) < 4100
    assert type(as_exception({"builtin": "SystemExit", "type": 5, "message": ["no"]}, sandbox, None)).__name__ == "SubmissionError"


def test_a_stopped_call_says_how_long_it_had_never_zero_seconds():
    """A call stopped at the call limit says so; one given less (its problem's time nearly spent) says how much, not "0 s"."""
    assert stopped_call(8.0, 8.0) == "the call ran over its time limit (8 s) and was stopped"
    short = stopped_call(0.04, 8.0)
    assert "after 0.04 s" in short and "may take 8 s" in short and "(0 s)" not in short
    assert stopped_call(2.6, 8.0).startswith("the call was stopped after 3 s")
