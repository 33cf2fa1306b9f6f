"""The zygote empties a worker's scratch folder between fresh-process driver calls (zygote._empty)."""

import os

import pytest

from grader.worker import zygote

pytestmark = pytest.mark.project


def test_emptying_the_scratch_removes_every_level_and_follows_no_link(tmp_path):
    scratch, outside = tmp_path / "scratch", tmp_path / "outside"
    (scratch / "a" / "b" / "c").mkdir(parents=True)
    (scratch / "a" / "b" / "c" / "deep.txt").write_text("x")
    (scratch / "a" / "top.txt").write_text("x")
    (scratch / "file.txt").write_text("x")
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "kept.txt").write_text("x")
    os.symlink(outside, scratch / "link_to_outside")
    os.symlink(outside / "keep" / "kept.txt", scratch / "a" / "link_to_file")

    zygote._empty(str(scratch))

    assert scratch.is_dir() and list(scratch.iterdir()) == []
    assert (outside / "keep" / "kept.txt").read_text() == "x", "a link inside the scratch was followed"
