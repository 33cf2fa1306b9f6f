"""The worker's root as a table (grader/worker/jail.py's `root_table`), read without root.

The end-to-end walls (test_walls.py, test_sandbox.py) apply it; here is what it says: what a
worker sees, in which order the rules go, and that nothing of the project is in it.
"""

import pytest

from grader.worker import jail
from grader.worker.jail import DEVICE, LINK, MASK, PROC, READ_ONLY, TMPFS, Rule

pytestmark = pytest.mark.project

VENV = "/tmp/venv"  # a venv under /tmp: the scratch tmpfs over /tmp must not hide it
PROJECT_COPY = "/tmp/venv/lib/python3.11/site-packages/tests"


def table(uid=None, devices=("null", "zero", "nvidia0")):
    return jail.root_table("/work/sandbox-1/submission", ["/usr/lib/python3.11", VENV], [PROJECT_COPY], 64, uid, list(devices))


def index(rules: list[Rule], inside: str, kind: str | None = None) -> int:
    return next(i for i, rule in enumerate(rules) if rule.inside == inside and kind in (None, rule.kind))


def test_the_root_holds_the_system_python_dev_proc_scratch_and_the_submission_only():
    rules = table()
    assert rules[0] == Rule("/", TMPFS, options="size=16m,mode=0755")
    binds = {rule.inside: rule.outside for rule in rules if rule.kind == READ_ONLY}
    assert binds == {
        **{path: path for path in jail.SYSTEM_DIRS}, "/usr/lib/python3.11": "/usr/lib/python3.11", VENV: VENV,
        jail.SUBMISSION: "/work/sandbox-1/submission",
    }
    assert [r.inside for r in rules if r.kind == DEVICE] == ["/dev/null", "/dev/zero", "/dev/nvidia0"]
    assert {r.inside: r.outside for r in rules if r.kind == LINK} == dict((f"/dev/{n}", t) for n, t in jail.DEV_LINKS)
    assert [r.inside for r in rules if r.kind == PROC] == ["/proc"]
    assert [r for r in rules if r.kind == MASK] == [Rule(PROJECT_COPY, MASK, options="size=4k,mode=0555")]


def test_only_the_machines_own_folders_may_be_missing_never_the_submission():
    """A machine without /lib32 or a Python folder leaves that bind out; a submission that cannot be
    bound stops the worker (the grader's error), never an empty folder that scores 0."""
    rules = table()
    optional = {r.inside for r in rules if r.if_there}
    assert optional == {*jail.SYSTEM_DIRS, "/usr/lib/python3.11", VENV}
    assert not next(r for r in rules if r.inside == jail.SUBMISSION).if_there


def test_the_order_keeps_a_venv_under_tmp_visible_and_its_project_copy_hidden():
    rules = table()
    scratch = index(rules, jail.SCRATCH, TMPFS)
    assert scratch < index(rules, VENV, READ_ONLY), "the scratch tmpfs over /tmp would hide a venv under /tmp"
    assert index(rules, VENV, READ_ONLY) < index(rules, PROJECT_COPY, MASK), "a mask must go over the bind it hides"
    dev = index(rules, "/dev")
    assert all(dev < i for i, r in enumerate(rules) if r.inside.startswith("/dev/")), "/dev's tmpfs must come before its nodes"
    assert index(rules, jail.SUBMISSION) == len(rules) - 1


def test_nothing_but_dev_may_hold_device_files_and_every_bind_is_read_only():
    rules = table()
    assert {r.kind for r in rules} == {TMPFS, jail.DEV_TMPFS, MASK, READ_ONLY, DEVICE, PROC, LINK}
    assert [r.inside for r in rules if r.kind == jail.DEV_TMPFS] == ["/dev"]
    assert all(r.inside.startswith("/dev/") for r in rules if r.kind == DEVICE)


@pytest.mark.parametrize("uid, owner", [(None, ""), (1234, ",uid=1234,gid=1234")])
def test_the_scratch_is_private_sized_and_owned_by_the_workers_uid(uid, owner):
    scratch = next(r for r in table(uid) if r.inside == jail.SCRATCH)
    assert scratch == Rule(jail.SCRATCH, TMPFS, options=f"size=64m,mode=0700{owner}")


def test_the_tmpfs_kinds_map_to_mount_flags_that_refuse_devices_outside_dev():
    flags = jail._TMPFS_FLAGS
    assert flags[TMPFS] & jail.MS_NODEV and flags[TMPFS] & jail.MS_NOSUID
    assert flags[MASK] & jail.MS_RDONLY and flags[MASK] & jail.MS_NODEV
    assert not flags[jail.DEV_TMPFS] & jail.MS_NODEV and flags[jail.DEV_TMPFS] & jail.MS_NOSUID
