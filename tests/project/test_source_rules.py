"""The static source rules: own-work (seam/own_work.py) and tamper (grader/core/source_rules.py).

Precision first: no honest code the kit holds raises any finding. Then each rule fires on the
code it names and not on its honest look-alikes, the seam fails exactly the functions that break
their rule (in-process, as a student's `pytest` does), the course's [integrity] policy holds and
releases a problem, and the submission that delegates everything to PyTorch is graded end to end.
"""

import functools
import json
from pathlib import Path

import pytest

from grader.core import integrity, results, source_rules
from grader.core.limits import Limits
from grader.core.machine import isolation_level
from grader.core import variants
from grader.staff.course import config
from grader.staff.grading.gradebook import Gradebook, Late
from seam import own_work
from seam.source_index import Submission
from seam.own_work import OwnWorkViolation
from tests.drivers import named_dims as named_dims_drivers
from tests.drivers import optimizers as optimizer_drivers
from seam import REPO_ROOT, InProcessImpl

pytestmark = [pytest.mark.project]

# A mutant that is a cheat: it execs `@` code compiled under another file name (tests/data/mutants/named_dims.toml).
CHEAT_MUTANTS = {"named_dims_rule_rebound_elsewhere": {"dynamic-code"}}


def sources(folder: Path) -> dict[str, str]:
    return {path.stem: path.read_text() for path in sorted(folder.glob("*.py"))}


def honest_code():
    """(name, its modules' text, package) for all the honest code the kit holds."""
    reference = sources(REPO_ROOT / "solutions")
    yield "solutions", reference, "solutions"
    yield "correct", sources(REPO_ROOT / "examples" / "submissions" / "correct" / "assignment"), "assignment"
    for student in sorted((REPO_ROOT / "tests" / "data" / "similarity").glob("*/assignment")):
        yield f"similarity/{student.parent.name}", sources(student), "assignment"
    for variant in variants.load_mutants() + variants.load_alternatives():  # the reference with one module edited
        yield variant.name, {**reference, variant.module: variant.edit(reference[variant.module])}, "assignment"


@functools.cache
def _module_rules(module: str, text: str, package: str) -> frozenset[str]:
    """The tamper rules one module raises: findings() reads each module alone, and the mutants and
    alternatives share all modules but one with the reference, so each distinct text is scanned once."""
    return frozenset(f.rule for f in source_rules.findings({module: text}, package))


def test_no_honest_code_raises_any_finding():
    """The reference, the correct example, the similarity students, every mutant and alternative:
    no own-work breach, no tamper finding (the one cheat among the mutants: only its own rule)."""
    raised = {}
    for name, code, package in honest_code():
        rules = set().union(*(_module_rules(module, text, package) for module, text in code.items()))
        breaches = sorted(f"{m}.{f}" for m, f in own_work.breaches(code, package))
        if rules != CHEAT_MUTANTS.get(name, set()) or breaches:
            raised[name] = (sorted(rules), breaches)
    assert not raised, raised


@pytest.fixture(scope="module")
def delegating(tmp_path_factory) -> Path:
    return variants.build_delegating(tmp_path_factory.mktemp("delegating"))


def test_the_delegating_submission_breaches_every_derived_function_it_delegates(delegating):
    """Each function the delegating submission hands to PyTorch (and each that calls one) breaks its rule; nothing else does."""
    breached = set(own_work.breaches(sources(delegating / "assignment")))
    delegated = {
        *(("tensors", f) for f in own_work.DERIVED_PROBLEM_1),
        *(("strides", f) for f in ("contiguous_strides", "is_contiguous", "transpose", "narrow", "view")),
        ("named_dims", "causal_mask"),
        *(("flops", f) for f in ("matmul_flops", "linear_forward_flops", "linear_backward_flops", "linear_stack_training_flops",
                                 "training_flops", "training_days", "measured_mfu")),
        # AdaGrad is the submission's own, but the rule reads all of optimizers.py, which names torch.optim's.
        ("optimizers", "SGD"), ("optimizers", "AdamW"), ("optimizers", "AdaGrad"),
        *(("accounting", f) for f in own_work.COUNTING_PROBLEM_7),
    }
    assert breached == delegated, (sorted(breached - delegated), sorted(delegated - breached))


RULE_CASES = [  # (module, function, the body's code, the rule it breaks)
    ("tensors", "machine_epsilon", "import torch as t\ndef machine_epsilon(d):\n    return t.finfo(d).eps\n", "no-dtype-lookup"),
    ("tensors", "machine_epsilon", "from torch import finfo\ndef machine_epsilon(d):\n    return finfo(d).eps\n", "no-dtype-lookup"),
    ("tensors", "machine_epsilon", "import torch\ndef machine_epsilon(d):\n    return getattr(torch, 'finfo')(d).eps\n", "no-dtype-lookup"),
    ("tensors", "bytes_per_element", "def bytes_per_element(d):\n    return d.itemsize\n", "no-dtype-lookup"),
    ("tensors", "underflows_to_zero", "import torch\ndef underflows_to_zero(v, d):\n    return _probe(v, d)\ndef _probe(v, d):\n    return torch.tensor(v).to(d).item() == 0\n", "no-probing-cast"),
    ("tensors", "machine_epsilon", "import torch\n_EPS = {d: torch.finfo(d).eps for d in (torch.float16,)}\ndef machine_epsilon(d):\n    return _EPS[d]\n", "no-dtype-lookup"),
    ("tensors", "machine_epsilon", "import torch\ndef machine_epsilon(d):\n    raise NotImplementedError\ndef _other(d):\n    return torch.finfo(d).eps\nmachine_epsilon = _other\n", "no-dtype-lookup"),
    ("strides", "contiguous_strides", "import torch\ndef contiguous_strides(s):\n    return torch.empty(s, device='meta').stride()\n", "no-tensor-metadata"),
    ("named_dims", "causal_mask", "import torch\ndef causal_mask(n):\n    return torch.ones(n, n).tril().bool()\n", "no-tril-triu"),
    ("flops", "matmul_flops", "from torch.utils.flop_counter import FlopCounterMode as C\ndef matmul_flops(m, k, n):\n    with C() as c:\n        pass\n    return 0\n", "no-flop-counter"),
    ("flops", "time_matmul", "from torch.utils import benchmark\ndef time_matmul(*a):\n    return benchmark.Timer('x').timeit(1).median\n", "no-benchmark-helper"),
    ("optimizers", "AdamW", "import torch\nclass AdamW(torch.optim.AdamW):\n    pass\n", "no-torch-optim-algorithm"),
    ("optimizers", "SGD", "from torch import optim\n_Base = optim.SGD\nclass SGD(_Base):\n    pass\n", "no-torch-optim-algorithm"),
    ("optimizers", "AdamW", "import torch\nclass AdamW(torch.optim.Optimizer):\n    def step(self):\n        torch._fused_adamw_([], [], [], [], [], [])\n", "no-torch-optim-algorithm"),
    ("accounting", "cruncher_num_parameters", "from .model import Cruncher\ndef cruncher_num_parameters(d, n):\n    return sum(p.numel() for p in Cruncher(d, n).parameters())\n", "no-model-count"),
]


@pytest.mark.parametrize("module, function, code, rule", RULE_CASES)
def test_each_own_work_rule_catches_what_it_names(module, function, code, rule):
    breach = own_work.breaches({module: code}).get((module, function))
    assert breach is not None and breach.rule.name == rule, breach


def test_one_module_text_is_judged_by_each_submissions_own_helpers():
    """The index of a module's text is shared between submissions (the hints build dozens of
    mutants), but what it means depends on the others: `conv(1.0, dtype=d)` is a probing cast
    where `conv` is not the submission's own, and a call of its own helper where it is."""
    tensors = "from .helpers import conv\ndef machine_epsilon(d):\n    return conv(1.0, dtype=d)\n"
    casting = {"tensors": tensors, "helpers": "x = 1\n"}
    own_helper = {"tensors": tensors, "helpers": "def conv(x, dtype):\n    return x / 1024\n"}
    assert own_work.breaches(casting)[("tensors", "machine_epsilon")].rule.name == "no-probing-cast"
    assert own_work.breaches(own_helper) == {}  # after the casting one: the same text, indexed already
    assert own_work.breaches(casting)[("tensors", "machine_epsilon")].rule.name == "no-probing-cast"


def test_the_checker_judges_each_function_when_reached_as_the_whole_map_does():
    """Checker judges a ruled function the first time a test reaches it; its verdicts are each rule's, read whole."""
    sources = {module: code for module, _, code, _ in RULE_CASES[:3]}
    checker = own_work.Checker(lambda: sources)
    with pytest.raises(own_work.OwnWorkViolation, match="no-dtype-lookup"):
        checker.check("tensors", "machine_epsilon")
    checker.check("tensors", "max_finite")  # ruled, and breaks nothing here
    submission = Submission(sources)
    every_rule = {key: own_work.first_breach(submission, *key, rules) for key, rules in own_work.RULES.items()}
    assert checker.breaches() == {key: breach for key, breach in every_rule.items() if breach is not None} != {}


HONEST_CASES = [  # look-alikes that break no rule
    ("tensors", "import torch\nimport math\n_F = {torch.float16: (1, 5, 10), torch.half: (1, 5, 10)}\ndef machine_epsilon(d):\n    return math.ldexp(1.0, -_F[d][2])\n"),
    ("tensors", "import torch\ndef _fmt(dtype):\n    return (1, 5, 10)\ndef machine_epsilon(dtype):\n    return 2.0 ** -_fmt(dtype=dtype)[2]\ndef quantize_fp8(x, d):\n    return x.to(d)\n"),
    ("optimizers", "import torch\nclass SGD(torch.optim.Optimizer):\n    @torch.no_grad()\n    def step(self):\n        torch._foreach_add_([], [])\n"),
    ("accounting", "import torch\ndef bytes_per_parameter(dtype=torch.bfloat16):\n    return torch.empty((), dtype=dtype).element_size() + dtype.itemsize\n"),
]


@pytest.mark.parametrize("module, code", HONEST_CASES)
def test_honest_look_alikes_break_no_rule(module, code):
    assert own_work.breaches({module: code}) == {}


TAMPER_CASES = [  # (code, the rule it must raise)
    ("import gc\nfor o in gc.get_objects():\n    pass\n", "gc-walk"),
    ("import sys\nf = sys._getframe(1)\n", "frame-access"),
    ("def f(e):\n    return e.__traceback__.tb_frame.f_back.f_globals\n", "frame-access"),
    ("import ctypes\n", "raw-memory"),
    ("import tests.drivers\n", "reach-grader"),
    ("import sys\nm = sys.modules['grader']\n", "reach-grader"),
    ("import importlib\ndef f(name):\n    return importlib.import_module(name)\n", "reach-grader"),
    ("import torch\nwith torch._C.DisableTorchFunction():\n    pass\n", "mode-switch"),
    ("from torch.utils._python_dispatch import _disable_current_modes\n", "mode-switch"),
    ("import torch\ntorch.allclose = lambda *a, **k: True\n", "patching"),
    ("import builtins\nsetattr(builtins, 'len', lambda x: 0)\n", "patching"),
    ("def f():\n    pass\ndef g():\n    pass\nf.__code__ = g.__code__\n", "patching"),
    ("import sys\nsys.setprofile(None)\n", "trace-hook"),
    ("import tracemalloc\ntracemalloc.stop()\n", "trace-hook"),
    ("eval('1 + 1')\n", "dynamic-code"),
    ("import torch\ndef f(name):\n    return getattr(torch, name)\n", "computed-lookup"),
    ("import os\nos.system('true')\n", "process"),
    ("import socket\n", "network"),
    ("open('/autograder/results/results.json', 'w')\n", "grader-path"),
    ("import jaxtyping\njaxtyping.config.update('jaxtyping_disable', True)\n", "checker-off"),
]


@pytest.mark.parametrize("code, rule", TAMPER_CASES)
def test_each_tamper_rule_catches_what_it_names(code, rule):
    assert rule in {f.rule for f in source_rules.findings({"flops": code})}


HONEST_LOOK_ALIKES = [
    "class A:\n    def get(self, name):\n        return getattr(self, name)\n",
    "import torch\ntorch.backends.cudnn.benchmark = True\ndef f():\n    return getattr(torch, 'float8_e4m3fn', None)\n",
    "import re\nP = re.compile('x')\nimport torch\nf = torch.compile\n",
    '"""Reads nothing under /proc/ or /autograder."""\nimport types\ndef f(x):\n    return isinstance(x, types.FunctionType)\n',
    "import torch\ndef f(x):\n    try:\n        return x.mean()\n    except RuntimeError as error:\n        raise ValueError(str(error)) from None\n",
]


@pytest.mark.parametrize("code", HONEST_LOOK_ALIKES)
def test_honest_look_alikes_raise_no_tamper_finding(code):
    assert source_rules.findings({"flops": code}) == []


def test_a_finding_in_a_helper_module_holds_the_problems_that_import_it():
    code = {"tensors": "from . import helpers\n", "flops": "x = 1\n", "helpers": "import gc\ngc.get_objects()\n"}
    held = source_rules.problems_held(source_rules.findings(code), code, ("tensors", "flops"))
    assert set(held) == {"tensors"}


def test_unparsable_or_huge_source_is_skipped_not_a_crash():
    assert source_rules.findings({"flops": "x = " + "-" * 7000 + "1\n", "tensors": "def f(:\n"}) == []
    assert own_work.breaches({"tensors": "def machine_epsilon(:\n"}) == {}


def test_source_flags_are_bounded_per_submission():
    """10,000 findings make 20 flags and one line that counts the rest: results.json stays small."""
    code = {"tensors": "import gc\n" + "gc.get_objects()\n" * 10_000}
    flags, held = integrity.source_flags(code, ("tensors",), {})
    assert len(flags) == integrity.MAX_FINDINGS + 1 and "9980 more" in flags[-1]["detail"]
    assert len(held["tensors"]) == integrity.MAX_FINDINGS


def test_drivers_are_read_for_the_ruled_objects_they_drive():
    assert own_work.driver_reaches(optimizer_drivers.run_optimizer, {"name": "AdamW"}) == {("optimizers", "AdamW")}
    assert own_work.driver_reaches(optimizer_drivers.construct, {"name": "SGD", "hyper": {}}) == {("optimizers", "SGD")}
    assert own_work.driver_reaches(named_dims_drivers.ops_executed, {"function": "causal_mask", "args": []}) == {("named_dims", "causal_mask")}


def test_the_seam_fails_a_breached_function_and_serves_the_rest(delegating):
    """In-process, as a student's `pytest`: reaching a breached function raises the rule; others work."""
    impl = InProcessImpl("assignment", delegating, "the delegating submission")
    with pytest.raises(OwnWorkViolation, match=r"machine_epsilon uses torch\.finfo at assignment/tensors\.py line \d+"):
        impl.tensors.machine_epsilon
    with pytest.raises(OwnWorkViolation, match="AdamW"):
        impl.run(optimizer_drivers.construct, name="AdamW", hyper={})
    with pytest.raises(OwnWorkViolation, match=r"AdaGrad uses torch\.optim\.SGD .*module code"):  # the rule reads all of optimizers.py
        impl.run(optimizer_drivers.construct, name="AdaGrad", hyper={"lr": 0.5})
    assert impl.flops.time_matmul is not None and impl.tensors.fp8_scale is not None
    assert impl.model.Linear is not None


def _results_with_tamper() -> dict:
    test = lambda name, module, score: {"name": name, "score": score, "max_score": 1.0, "output": "", "tags": [module],  # noqa: E731
                                        "status": "passed", "extra_data": {"key": f"public/test_{module}.py::{name}"}}
    return {"score": 3.0, "max_score": 3.0, "tests": [test("a", "tensors", 1.0), test("b", "tensors", 1.0), test("c", "flops", 1.0)],
            "extra_data": {"tamper": {"tensors": ["assignment/tensors.py line 3: gc-walk: gc.get_objects"]}, "integrity_flags": []}}


def test_the_zero_policy_holds_a_flagged_problem_and_a_release_gives_it_back(tmp_path):
    data = _results_with_tamper()
    assert integrity.hold(data, "flag") == data
    held = integrity.hold(data, "zero")
    assert held["score"] == 1.0 and held["extra_data"]["held_for_review"] == ["tensors"]
    assert all(t["score"] == 0 and t["output"].startswith("Held for review") for t in held["tests"] if t["tags"] == ["tensors"])
    assert integrity.hold(held, "zero") == held  # applied once
    book = Gradebook(tmp_path / "book.sqlite")
    try:
        book.record("ann", "digest", "", held, Late(), 1.0)
        assert book.final_scores()["ann"]["final"] == 1.0
        from grader.commands import override

        args = type("Args", (), {"student": "ann", "release": "tensors", "reason": "reviewed: a debugging leftover", "by": "TA Jo"})()
        assert override.release(book, args) == 0
        assert book.final_scores()["ann"]["final"] == 3.0
    finally:
        book.close()


def test_course_toml_names_the_policy(tmp_path):
    (tmp_path / "course.toml").write_text('[integrity]\ntamper = "zero"\n')
    assert config.load(tmp_path / "course.toml").tamper == "zero"
    assert config.load(None).tamper == integrity.DEFAULT == "flag"
    (tmp_path / "course.toml").write_text('[integrity]\ntamper = "ban"\n')
    with pytest.raises(config.ConfigError, match=r'\[integrity\] tamper = .ban.: expected one of "flag", "zero"'):
        config.load(tmp_path / "course.toml")


@pytest.mark.e2e
@pytest.mark.timeout(600)
@pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")
def test_the_delegating_submission_scores_zero_in_what_it_delegates(grading_service, delegating, tmp_path):
    """Through the grader (two problems, to stay cheap): every test that reaches a delegated function
    fails on its own-work rule, every other test keeps its points, and staff see `own-work` flags.
    (Graded whole before the rules: 100/100; after: 44.7, every lost test an own-work rule's.)"""
    outcome = grading_service.grade(delegating, tmp_path / "out" / "results.json", Limits(call_seconds=8, test_seconds=30), False, ["tensors", "named_dims"])
    assert outcome["ok"], outcome.get("error")
    data = outcome["results"]
    lost = [t for t in data["tests"] if t["score"] < t["max_score"]]
    assert lost and all("own-work rule: " in t["output"] for t in lost), [t["output"][:300] for t in lost if "own-work rule: " not in t["output"]]
    kept = {t["name"].split(": ")[-1] for t in data["tests"] if t["score"] == t["max_score"]}
    assert any("fp8" in name for name in kept) and any("pairwise_scores" in name for name in kept)
    assert all("causal_mask" not in name for name in kept)
    assert results.per_problem(data)["named_dims"][0] < results.per_problem(data)["named_dims"][1]
    assert {"own-work"} <= {f["kind"] for f in data["extra_data"]["integrity_flags"]}
    assert json.loads(json.dumps(data))["extra_data"]["tamper"] == {}
