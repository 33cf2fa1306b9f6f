"""The set-up a newcomer reads works off this machine: README, handout and the student bundle
agree on one torch command (the CPU wheel index, the checked range), the bundle pins that range
(no newer torch and its CUDA libraries pulled over it), and the API reference is in the project
and in the bundle, where README and handout point."""

import re
import subprocess
import sys

import pytest

from grader.staff.release import bundling
from grader.compat import tomllib
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e, pytest.mark.xdist_group("cli-setup")]  # one worker builds the bundle once

CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    command = [sys.executable, "-m", "grader", "release", str(out), "--no-behaviour-check"]  # test_release runs it
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return out


def torch_commands(text: str) -> set[str]:
    return set(re.findall(r"pip install (\S*torch\S*) " + re.escape(CPU_INDEX), text))


def test_readme_handout_and_bundle_give_one_cpu_torch_command(bundle):
    pinned = f'"{bundling.student_torch()}"'
    texts = {
        "README.md": (REPO_ROOT / "README.md").read_text(),
        "handout.md": (REPO_ROOT / "handout.md").read_text(),
        "the bundle's README": (bundle / "README.md").read_text(),
        "the bundle's handout": (bundle / "handout.md").read_text(),
    }
    for where, text in texts.items():
        assert torch_commands(text) == {pinned}, (where, torch_commands(text))
        assert "pip install torch==" not in text, where  # the on-disk wheel of one machine is not a set-up


def test_the_bundle_pins_torch_to_the_checked_range(bundle):
    dependencies = tomllib.loads((bundle / "pyproject.toml").read_text())["project"]["dependencies"]
    torch = [d for d in dependencies if d.startswith("torch")]
    assert torch == [bundling.student_torch()] and "<" in torch[0] and "<3" not in torch[0]


def test_the_api_reference_is_in_the_project_and_the_bundle(bundle):
    api = (REPO_ROOT / "docs" / "api.md").read_text()
    assert "## Additions (second edition)" in api and "tensor_num_bytes(shape: Shape, dtype: torch.dtype) -> int" in api
    assert (bundle / "docs" / "api.md").read_text() == api
    for doc in ("README.md", "handout.md"):
        text = (REPO_ROOT / doc).read_text()
        assert "docs/api.md" in text and "shared/spec" not in text, doc
