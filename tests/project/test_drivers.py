"""Drivers drive; oracles stay on the trusted side (issue 17).

tests/drivers/ runs in the worker, beside student code that can find and rewrite any of it:
so nothing there may compute an expected value, and nothing that does (tests/oracles/, the
reference, PyTorch's own optimizers run as an answer) may be loaded into the worker.
"""

import ast
import json
import subprocess
import sys

import pytest

from grader.core.machine import driver_modules
from seam import REPO_ROOT

pytestmark = pytest.mark.project

DRIVERS = sorted(p for p in (REPO_ROOT / "tests" / "drivers").glob("*.py") if p.stem != "__init__")
# What the worker must never hold: the expectations and whatever holds them.
ANSWERS = ("tests.oracles", "tests.hidden", "tests.public", "solutions")
TRUSTED_PACKAGES = (*ANSWERS, "grader.core", "grader.staff")  # nor may a driver import the grader's side
# torch.optim's algorithms: a driver that runs one could hand a forged reply PyTorch's answer.
OPTIMIZER_ALGORITHMS = {"SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "LBFGS", "NAdam", "RAdam",
                        "RMSprop", "Rprop", "SparseAdam", "Adafactor", "_functional"}
# ...except where an optimizer is an input handed to the student's code (problem 8 drives its
# train_step with PyTorch's optimizers, so that it does not depend on problem 6).
OPTIMIZERS_AS_INPUT = {("training.py", "make_optimizer")}


def _functions(tree: ast.AST):
    """(enclosing top-level function name or None, node) for every node of the module."""
    for top in tree.body:
        owner = top.name if isinstance(top, (ast.FunctionDef, ast.ClassDef)) else None
        for node in ast.walk(top):
            yield owner, node


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def oracle_like(path) -> list[str]:
    """Why a driver file looks like it computes an expected value (empty: it does not)."""
    found = []
    for owner, node in _functions(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name.lower()
            if name.startswith(("torch_", "_torch")) or any(word in name for word in ("oracle", "expected", "reference")):
                found.append(f"defines {node.name}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"imports {m}" for m in modules if m.startswith(TRUSTED_PACKAGES)]
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch.optim"):
                found += [f"imports torch.optim's {a.name}" for a in node.names if a.name in OPTIMIZER_ALGORITHMS]
        if isinstance(node, ast.Attribute) and node.attr in OPTIMIZER_ALGORITHMS:
            if _dotted(node).startswith(("torch.optim.", "optim.")) and (path.name, owner) not in OPTIMIZERS_AS_INPUT:
                found.append(f"runs {_dotted(node)} in {owner}")
    return found


@pytest.mark.parametrize("path", DRIVERS, ids=lambda p: p.name)
def test_drivers_hold_no_oracle(path):
    """No torch_* helper, no oracle, expectation or reference, no import of the trusted side,
    no torch.optim algorithm run as an answer."""
    assert oracle_like(path) == []


@pytest.mark.parametrize("text, why", [
    ("def torch_train_steps(optimizer):\n    pass\n", "defines torch_train_steps"),
    ("def _torch_step(model):\n    pass\n", "defines _torch_step"),
    ("from tests.oracles import training\n", "imports tests.oracles"),
    ("import solutions.optimizers\n", "imports solutions.optimizers"),
    ("import torch\n\ndef run(impl):\n    return torch.optim.AdamW\n", "runs torch.optim.AdamW in run"),
    ("from torch.optim import Adagrad\n", "imports torch.optim's Adagrad"),
])
def test_the_check_sees_each_kind_of_oracle(tmp_path, text, why):
    path = tmp_path / "optimizers.py"
    path.write_text(text)
    assert oracle_like(path) == [why]


def test_the_zygote_preloads_drivers_and_nothing_that_computes_an_answer():
    """What the worker inherits: tests.drivers.*, and no oracle module, the reference or a suite."""
    assert driver_modules() == [f"tests.drivers.{p.stem}" for p in DRIVERS]
    script = (
        "import json, sys\n"
        "from grader.core.sandbox import driver_modules\n"
        "from grader.worker import zygote\n"
        "zygote.preload(driver_modules(), ['tensors'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('tests', 'solutions', 'grader')))))\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    loaded = json.loads(finished.stdout.strip().splitlines()[-1])
    assert set(driver_modules()) <= set(loaded)
    assert [m for m in loaded if m.startswith(ANSWERS)] == []
