"""`impl.each`: several calls in one round trip, answered as if each had been made alone.

seam.Answers and the trusted side's check of a "calls" reply here; the round trip itself
through a real sandbox (tests/project/walls_driver.py `each`, a subprocess: the zygote does
not fork from a process holding pytest).
"""

import json
import subprocess
import sys
import textwrap

import pytest

import seam
from grader.core import remote
from seam import REPO_ROOT

pytestmark = [pytest.mark.project]


MODULE = textwrap.dedent('''
    import sys

    _made = []


    def ok(x):
        _made.append(x)
        return 2 * x


    def boom(x):
        _made.append(x)
        raise ValueError(f"boom {x}")


    def leave(x):
        _made.append(x)
        sys.exit(3)


    def made():
        return list(_made)
''')


def test_answers_read_in_order_raise_where_the_call_raised():
    """Answers before the failing call are values; from it on, its exception (later calls never ran)."""
    module: dict = {}
    exec(MODULE, module)  # the in-process `each`, on the functions the sandbox test sends
    ok, boom = module["ok"], module["boom"]
    answers = seam.answers_in_order(((ok, 1), (boom, 2), (ok, 3)))
    assert len(answers) == 3 and answers[0] == 2 and module["made"]() == [1, 2]
    for index in (1, 2, -1):
        with pytest.raises(ValueError, match="boom 2"):
            answers[index]
    with pytest.raises(ValueError, match="boom 2"):
        list(answers)
    tail = answers[1:]
    assert len(tail) == 2
    with pytest.raises(ValueError):
        tail[0]
    assert list(seam.answers_in_order(((ok, 4), (ok, 5)))[1:]) == [10]
    with pytest.raises(IndexError):
        answers[3]


@pytest.mark.parametrize("outcomes, asked", [
    ([], 2),  # no answer at all
    ([{"ok": True, "value": 1}], 2),  # fewer answers, none raised
    ([{"ok": True, "value": 1}] * 3, 2),  # more answers than calls
    ([{"ok": False, "error": {}}, {"ok": True, "value": 1}], 2),  # an answer after the call that raised
    ([{"ok": 1, "value": 1}, {"ok": True, "value": 1}], 2),  # "ok" not a bool
    ([["ok"], {"ok": True}], 2),  # not a dict
    ({"ok": True}, 1),  # not a list
])
def test_a_malformed_calls_reply_is_refused(outcomes, asked):
    """The worker's answer to a batch is a claim about its shape too: one outcome per call made, in order."""
    assert not remote._well_formed(outcomes, asked)


def test_well_formed_calls_replies_are_taken():
    assert remote._well_formed([{"ok": True, "value": 1}, {"ok": True, "value": 2}], 2)
    assert remote._well_formed([{"ok": True, "value": 1}, {"ok": False, "error": {}}], 3)




def test_a_batch_through_the_sandbox_answers_as_calls_made_alone(tmp_path):
    """One round trip: values in order, the first exception where it was raised, nothing called
    after it, and sys.exit() in a batch flagged like a call's."""
    (tmp_path / "assignment").mkdir()
    (tmp_path / "assignment" / "tensors.py").write_text(MODULE)
    process = subprocess.run([sys.executable, "-m", "tests.project.walls_driver", "each", str(tmp_path)],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    outcome = json.loads(process.stdout.strip().splitlines()[-1])
    assert outcome["raised"] == [["value", 2], ["raised", "ValueError", "boom 2"], ["raised", "ValueError", "boom 2"]]
    assert outcome["exited"][0] == ["value", 10] and outcome["exited"][1][:2] == ["raised", "SubmissionError"]
    assert outcome["exited"][2] == outcome["exited"][1]
    assert outcome["made"] == [1, 2, 5, 6]  # 3 and 7 came after a call that raised: never made
    assert "exit" in outcome["flags"]
