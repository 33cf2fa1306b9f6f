"""The written part: numbers drawn per student, graded on the trusted side; what the bundle ships.

The draws (student/questions.py, shipped as questions.py) give each login its own numbers, the
same on every machine; nothing shipped computes an answer; the key (grader/core/written_key.py)
comes from the reference; written.toml is staged by the intake under its bounds and read by one
reader that never raises; Gradescope grades the numbers and leaves the explanations to its own
manual grading. The staff workflow, end to end through the CLI, is in test_written_cli.py.
"""

import ast
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.core import intake, rubric, written
from grader.core.manifest import manifest_flags
from grader.core.written_key import expected
from grader.staff.course import config, logistics
from grader.staff.grading import gradescope
from grader.staff.release import bundling
from student import questions
from seam import REPO_ROOT

pytestmark = pytest.mark.project

TERM = "2025-fall"
CORRECT = REPO_ROOT / "examples" / "submissions" / "correct"
# alice's numbers in term 2025-fall: a changed draw (list, order, hashing) changes every student's
# questions mid-term, so it must be a decision, made here too.
ALICE = {
    "training_days": {"params": 70e9, "tokens": 300e9, "gpus": 1024, "accelerator": ("A100 GPUs", 312e12), "mfu": 0.3},
    "max_params": {"gpus": 8, "memory": 141e9, "recipe": "adagrad-fp32"},
    "budget_params": {"gpus": 64, "accelerator": ("A100 GPUs", 312e12), "mfu": 0.5, "days": 14, "tokens": 5e12},
    "stack_flops": {"w0": 4096, "w1": 1024, "w2": 1024, "w3": 256, "tokens": 1024},
    "cruncher_bytes": {"dim": 4096, "layers": 2, "batch": 8, "optimizer": "adagrad", "recipe": "mixed"},
    "utilisation": {"model": (16e9, 1024), "scale": 1.2, "seconds": 0.31, "gpus": 64},
}


def answers_file(values: dict, login: str = "alice", term: str = TERM, explain: dict | None = None) -> str:
    lines = [f"login = {json.dumps(login)}", f"term = {json.dumps(term)}", "[napkin]"]
    lines += [f"{key} = {value!r}" if not isinstance(value, str) else f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["[explain]", *(f"{key} = {json.dumps(text)}" for key, text in (explain or {}).items())]
    return "\n".join(lines) + "\n"


def graded(folder: Path, login: str = "alice", term: str = TERM) -> dict[str, dict]:
    tests, _ = written.grade(folder, login, term)
    return {t["extra_data"]["key"]: t for t in tests}


# --- the draws -------------------------------------------------------------------------------


def test_two_students_get_different_numbers_and_each_the_same_every_time():
    logins = [f"student{n}" for n in range(40)]
    draws = [json.dumps(questions.draw(login, TERM), sort_keys=True) for login in logins]
    assert len(set(draws)) == len(logins), "two logins drew the very same questions"
    assert questions.draw("alice", TERM) != questions.draw("bob", TERM)
    assert questions.draw("  Alice ", TERM) == questions.draw("alice", TERM), "case and spaces of a login do not matter"
    assert questions.draw("alice", TERM) != questions.draw("alice", "2026-spring"), "another term, other numbers"
    assert questions.draw("alice", TERM) == {q: {k: tuple(v) if isinstance(v, list) else v for k, v in f.items()} for q, f in ALICE.items()}


def test_the_answers_differ_between_students_so_sharing_them_fails(tmp_path):
    (tmp_path / "written.toml").write_text(answers_file(expected(questions.draw("alice", TERM))))
    assert sum(t["score"] for t in graded(tmp_path, "alice").values()) == 6
    assert sum(t["score"] for t in graded(tmp_path, "bob").values()) < 6, "alice's answers earned bob his napkin points"


def test_every_drawn_question_is_plausible():
    """Over many logins: no question asks for an impossible utilisation or a model of under a million parameters."""
    for n in range(300):
        key = expected(questions.draw(f"s{n}", TERM))
        assert 0.2 < key["mfu"] < 0.7 and key["hfu"] < 0.9, key
        assert key["budget_params"] > 1e6 and key["max_params"] > 1e8 and key["training_days"] > 0
        stack = questions.draw(f"s{n}", TERM)["stack_flops"]
        six_nd = 6 * stack["tokens"] * (stack["w0"] * stack["w1"] + stack["w1"] * stack["w2"] + stack["w2"] * stack["w3"])
        assert six_nd > key["stack_flops"] * (1 + written.TOLERANCE), "6ND alone must not pass the stack question"


def test_the_shipped_questions_compute_no_answer():
    """questions.py imports only the standard library, names nothing of the grader, and prints no exact value."""
    source = (REPO_ROOT / "student" / "questions.py").read_text()
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert imported <= {"__future__", "argparse", "hashlib", "json", "math", "sys", "dataclasses", "tomllib", "tomli"}, imported
    for login in ("alice", "bob", "carol"):
        text = questions.render(login, TERM) + questions.template(login, TERM)
        for name, value in expected(questions.draw(login, TERM)).items():
            for shown in {f"{value:.3g}", f"{value:.4g}", questions.number(value)}:
                assert not re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d])", text), f"{login}'s {name} ({shown}) is in what the bundle prints"


# --- grading -----------------------------------------------------------------------------------


def test_a_number_is_right_within_two_percent_and_wrong_beyond(tmp_path):
    key = expected(questions.draw("alice", TERM))
    (tmp_path / "written.toml").write_text(answers_file({k: v * 1.019 for k, v in key.items()}))
    assert all(t["status"] == "passed" for k, t in graded(tmp_path).items() if k.startswith(written.NAPKIN))
    (tmp_path / "written.toml").write_text(answers_file({k: v * 1.021 for k, v in key.items()}))
    tests = graded(tmp_path)
    assert all(t["status"] == "failed" and t["score"] == 0 for k, t in tests.items() if k.startswith(written.NAPKIN))
    shown = " ".join(t["output"] for t in tests.values())
    assert f"{key['training_days']:.4g}" not in shown, "the feedback must not give the exact value away"


def test_numbers_as_text_count_and_nonsense_does_not(tmp_path):
    key = expected(questions.draw("alice", TERM))
    text = f'[napkin]\ntraining_days = "{key["training_days"]:.5e}"\nmax_params = true\nbudget_params = nan\nstack_flops = [1]\n'
    (tmp_path / "written.toml").write_text(text)
    tests = graded(tmp_path)
    assert tests["written/napkin::training_days"]["status"] == "passed"
    for name in ("max_params", "budget_params", "stack_flops"):
        assert tests[f"written/napkin::{name}"]["score"] == 0 and "No answer" in tests[f"written/napkin::{name}"]["output"]


def test_explanations_await_marking_and_empty_ones_score_zero(tmp_path):
    (tmp_path / "written.toml").write_text(answers_file({}, explain={"six_nd": "Forward 2, backward 4.", "sharing": "   "}))
    tests = graded(tmp_path)
    assert tests["written/explain::six_nd"]["status"] == "pending" and tests["written/explain::six_nd"]["score"] == 0
    assert tests["written/explain::sharing"]["status"] == "failed", "a blank answer is no answer: nothing to mark"
    _, points = written.points()
    assert [t["max_score"] for t in tests.values()] == list(points.values())


@pytest.mark.parametrize("text", ["login = \n", "[napkin\n", "a = " + "[" * 5000 + "]" * 5000, "\x00\xff", "napkin = 3\nexplain = [1]\n"])
def test_an_answers_file_that_cannot_be_read_costs_the_written_part_only(tmp_path, text):
    (tmp_path / "written.toml").write_text(text, errors="surrogateescape")
    tests, extra = written.grade(tmp_path, "alice", TERM)
    assert sum(t["score"] for t in tests) == 0 and extra["problems"], "the reader names what it could not read"


def test_an_answers_file_naming_another_login_is_flagged(tmp_path):
    (tmp_path / "written.toml").write_text(answers_file({}, login="bob"))
    _, extra = written.grade(tmp_path, "alice", TERM)
    assert [f["kind"] for f in written.login_flags(extra)] == ["written-login"]
    (tmp_path / "written.toml").write_text(answers_file({}, login=" ALICE"))
    assert written.login_flags(written.grade(tmp_path, "alice", TERM)[1]) == []


def test_the_correct_example_earns_every_napkin_point():
    tests = graded(CORRECT, "correct", "")
    napkin = [t for k, t in tests.items() if k.startswith(written.NAPKIN)]
    assert all(t["status"] == "passed" for t in napkin), [t["output"] for t in napkin if t["status"] != "passed"]
    assert all(t["status"] == "pending" for k, t in tests.items() if k.startswith(written.EXPLAIN))


def test_the_written_part_is_worth_15_points_6_graded_and_9_marked():
    _, points = written.points()
    napkin = sum(v for k, v in points.items() if k.startswith(written.NAPKIN))
    explain = sum(v for k, v in points.items() if k.startswith(written.EXPLAIN))
    assert (napkin, explain) == (6, 9)
    assert {k[len(written.NAPKIN):] for k in points if k.startswith(written.NAPKIN)} == set(questions.answer_keys())
    assert {k[len(written.EXPLAIN):] for k in points if k.startswith(written.EXPLAIN)} == set(questions.EXPLAIN)
    assert not set(points) & set(rubric.load().points), "the written part is no test of the suites"


def test_the_handout_lists_the_questions_with_their_points():
    handout = (REPO_ROOT / "handout.md").read_text()
    section = handout[handout.index("## Written part (15 points)"):]
    section = section[: section.index("\n## ", 4)]
    _, points = written.points()
    listed = {key: float(value) for key, value in re.findall(r"^\| `(\w+)` \| ([\d.]+) \|", section, re.MULTILINE)}
    if "| `mfu`, `hfu` | 0.5 + 0.5 |" in section:
        listed.update(mfu=0.5, hfu=0.5)
    assert listed == {k.split("::")[1]: v for k, v in points.items()}
    assert f"within **{written.TOLERANCE:.0%}**" in section


# --- intake: written.toml beside assignment/ ---------------------------------------------------


def submission_with(folder: Path, written_text: bytes | None = b'login = "alice"\n') -> Path:
    (folder / "assignment").mkdir(parents=True)
    (folder / "assignment" / "flops.py").write_text("x = 1\n")
    if written_text is not None:
        (folder / "written.toml").write_bytes(written_text)
    return folder


def test_intake_stages_written_toml_from_a_folder_a_zip_and_loose_files(tmp_path):
    folder = submission_with(tmp_path / "folder")
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(folder / "assignment" / "flops.py", "inner/assignment/flops.py")
        zipped.write(folder / "written.toml", "inner/written.toml")
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "flops.py").write_text("x = 1\n")
    (loose / "written.toml").write_text('login = "alice"\n')
    for n, submission in enumerate((folder, archive, loose)):
        staged = intake.stage(submission, tmp_path / f"scratch{n}")
        assert (staged.folder / "written.toml").read_text() == 'login = "alice"\n', submission
        assert staged.written_problem is None


def test_intake_follows_no_link_to_written_toml_and_reads_no_pipe(tmp_path):
    linked = submission_with(tmp_path / "linked", None)
    (tmp_path / "secret.toml").write_text('login = "staff"\n')
    (linked / "written.toml").symlink_to(tmp_path / "secret.toml")
    staged = intake.stage(linked, tmp_path / "scratch-link")
    assert not (staged.folder / "written.toml").exists() and "symbolic link" in staged.written_problem
    assert [f["kind"] for f in staged.flags] == ["link"]
    piped = submission_with(tmp_path / "piped", None)
    os.mkfifo(piped / "written.toml")  # opening it to read would block the grader
    staged = intake.stage(piped, tmp_path / "scratch-pipe")
    assert not (staged.folder / "written.toml").exists() and "not a file" in staged.written_problem


def test_an_oversized_written_toml_is_left_out_and_the_code_still_graded(tmp_path):
    big = submission_with(tmp_path / "big", b"# " + b"x" * intake.MAX_WRITTEN_BYTES)
    staged = intake.stage(big, tmp_path / "scratch")
    assert not (staged.folder / "written.toml").exists() and "64 KiB" in staged.written_problem
    assert (staged.folder / "assignment" / "flops.py").exists()
    data = written.alone(big, "alice", TERM)
    assert not data["extra_data"].get("unreadable") and any("64 KiB" in p for p in data["extra_data"]["written"]["problems"])


def test_a_new_written_text_is_a_new_submission(tmp_path):
    folder = submission_with(tmp_path / "s")
    before = written.results.submission_digest(intake.stage(folder, tmp_path / "a").folder)
    (folder / "written.toml").write_text('login = "alice"\n[explain]\nsix_nd = "changed"\n')
    assert written.results.submission_digest(intake.stage(folder, tmp_path / "b").folder) != before


def test_submit_packs_written_toml_into_the_zip_and_its_manifest(tmp_path):
    """The bundle's `python -m submit` packs written.toml beside assignment/; the grader stages it, unflagged."""
    bundle = submission_with(tmp_path / "bundle", answers_file({}, explain={"six_nd": "2 + 4"}).encode())
    (bundle / "submit.py").write_bytes((REPO_ROOT / "student" / "submit.py").read_bytes())
    (bundle / "questions.py").write_text(bundling.questions_with_term(TERM))
    (bundle / "submit_api.json").write_text("{}")
    finished = subprocess.run([sys.executable, "-m", "submit", "--skip-tests"], cwd=bundle, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "WRITTEN PART (written.toml): 11 note(s)" in finished.stdout, "what is unanswered is said before handing in"
    with zipfile.ZipFile(bundle / "submission.zip") as zipped:
        assert "written.toml" in json.loads(zipped.read("submission-manifest.json"))["sha256"]
    staged = intake.stage(bundle / "submission.zip", tmp_path / "scratch")
    assert (staged.folder / "written.toml").read_bytes() == (bundle / "written.toml").read_bytes()
    assert manifest_flags(staged.folder) == []


# --- course.toml, the release, Gradescope ----------------------------------------------------------


def test_course_and_policies_tables_are_checked(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text('[course]\nterm = ""\nnmae = "x"\n[policies]\nai_tools = 3\n')
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    for expected_text in ("[course] term = ''", "[course] nmae: unknown key", "[policies] ai_tools = 3"):
        assert expected_text in str(error.value)
    path.write_text(f'[course]\nname = "CS 336"\nterm = "{TERM}"\n[policies]\nhours = "about 15 hours"\n')
    assert config.load(path).term == TERM and config.Course().term == ""


def test_the_handout_renders_every_placeholder_and_refuses_unknown_ones(tmp_path):
    handout = (REPO_ROOT / "handout.md").read_text()
    assert "{{ due }}" in handout and "{{ ai_tools }}" in handout, "the repository's handout shows its placeholders"
    text, defaults = logistics.render(handout, config.Course())
    assert "{{" not in text and "<!-- staff:" not in text and "due" in defaults
    with pytest.raises(logistics.HandoutError, match="deadline_typo"):
        logistics.render(handout + "\n{{ deadline_typo }}\n", config.Course())


def test_the_bundle_ships_questions_with_the_term_and_no_answer(tmp_path):
    shipped = bundling.questions_with_term(TERM)
    assert 'TERM = "2025-fall"' in shipped
    (tmp_path / "questions.py").write_text(shipped)
    printed = subprocess.run([sys.executable, "questions.py", "alice"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == questions.render("alice", TERM), "the bundle's questions.py draws as the grader does"
    assert "written_key" not in shipped and "solutions" not in shipped


def test_gradescope_grades_the_napkin_numbers_and_leaves_the_explanations_to_its_manual_grading(tmp_path, monkeypatch):
    root = tmp_path / "autograder"
    submission = submission_with(root / "submission", None)
    key = expected(questions.draw("jdoe", ""))
    (submission / "written.toml").write_text(answers_file(key, login="jdoe", term="", explain={"six_nd": "..."}))
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "jdoe@example.edu", "name": "J"}]}))
    monkeypatch.setenv("GRADER_ONLY", "written")
    assert gradescope.run(root) == 0
    data = json.loads((root / "results" / "results.json").read_text())
    keys = [t["extra_data"]["key"] for t in data["tests"]]
    assert keys and all(k.startswith(written.NAPKIN) for k in keys), "explanations are Gradescope's manual question"
    assert data["score"] == data["max_score"] == 6
