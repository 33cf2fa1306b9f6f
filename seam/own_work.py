"""Own-work rules: what each function the handout asks you to derive may not hand to PyTorch.

The handout's "Own-work rules" section, as a table. A rule is checked on the source text
(seam/source_index.py: the function, every helper of the submission it reaches, its class's
bases and methods, any rebinding of its name), never by running it, so nothing the code does
at run time can hide a breach. A function that breaks its rule scores 0: every test that
reaches it through the seam (`impl.tensors.machine_epsilon`, a driver that drives
`optimizers.AdamW`) fails with the rule's message. The same table serves `pytest` on a
laptop (seam/'s in-process backend) and the grader (which reads its staged copy of
the submission on the trusted side), so both give the same verdict.

A rule only takes points: it never pays for a function that is wrong.
"""

from __future__ import annotations

import ast
import functools
import inspect
import types
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from seam.source_index import PACKAGE, Submission, Use, literal_getattr

HANDOUT = "see the handout's Own-work rules"


@dataclass(frozen=True)
class Rule:
    """What a function may not name. `names` are dotted names through the imports; one ending
    in "." forbids everything under it (`allowed` names excepted)."""

    name: str
    why: str
    names: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    attributes: frozenset[str] = frozenset()  # .attr, called or not
    attribute_prefixes: tuple[str, ...] = ()
    methods: frozenset[str] = frozenset()  # .attr(...) called
    keywords: frozenset[str] = frozenset()  # name=... in a call of anything but the submission's own helpers
    strings: frozenset[str] = frozenset()  # an exact string constant
    defines: frozenset[str] = frozenset()  # a nested def or class of this name
    # Checked on all of the ruled function's module, not only on what the function reaches: where
    # nothing honest in that module would name it (a torch.optim algorithm in optimizers.py), code
    # beside the ruled classes (a rewritten driver, a module-level swap) cannot do the work unseen.
    whole_module: bool = False

    def match(self, use: Use) -> bool:
        if use.kind == "name":
            return any(use.text == n or (n.endswith(".") and use.text.startswith(n)) for n in self.names) and not any(
                use.text == a or (a.endswith(".") and use.text.startswith(a)) for a in self.allowed
            )
        if use.kind == "attribute":
            return use.text in self.attributes or use.text.startswith(self.attribute_prefixes or ("\0",))
        return use.text in {"method": self.methods, "keyword": self.keywords, "string": self.strings, "define": self.defines}.get(use.kind, ())


TENSOR_MAKERS = tuple(
    f"torch.{name}" for name in (
        "tensor", "as_tensor", "asarray", "scalar_tensor", "empty", "zeros", "ones", "full", "empty_like",
        "zeros_like", "ones_like", "full_like", "arange", "linspace", "rand", "randn", "randint", "from_numpy",
        "frombuffer", "empty_strided", "as_strided", "Tensor",
    )
)

DTYPE_LOOKUP = Rule(
    "no-dtype-lookup",
    "Problem 1 asks you to derive it from the bit layout",
    names=("torch.finfo", "torch.iinfo", "numpy.finfo", "numpy.iinfo", "numpy.dtype", "ml_dtypes."),
    attributes=frozenset({"finfo", "iinfo", "itemsize", "element_size", "nbytes"}),
)
PROBING_CAST = Rule(
    "no-probing-cast",
    "Problem 1 asks you to derive it from the bit layout, not to store a value in the dtype and look",
    names=(*TENSOR_MAKERS, "numpy.array", "numpy.asarray", "numpy.float16", "numpy.float32", "numpy.float64", "numpy.frombuffer"),
    methods=frozenset({"to", "type", "view", "half", "float", "double", "bfloat16", "astype"}),
    keywords=frozenset({"dtype"}),
)
ASK_A_TENSOR = Rule(
    "no-tensor-metadata",
    "Problem 2 asks you to compute the metadata yourself, not to build a tensor and read PyTorch's",
    names=(*TENSOR_MAKERS, "numpy.lib.stride_tricks.", "numpy.ndarray", "numpy.empty", "numpy.zeros", "numpy.ones", "numpy.arange"),
    methods=frozenset({"stride", "is_contiguous", "storage_offset", "as_strided", "view", "transpose", "narrow", "permute", "reshape", "expand", "contiguous"}),
)
NO_TRIANGLE = Rule(
    "no-tril-triu",
    "Problem 3 asks you to build the mask from positions (torch.arange, einops, comparisons)",
    attributes=frozenset({"tril", "triu", "tril_indices", "triu_indices"}),
)
NO_COUNTER = Rule(
    "no-flop-counter",
    "the counting problems ask you to count, not to run PyTorch's counters or a model on meta tensors",
    names=(
        "torch.utils.flop_counter.", "torch.utils._python_dispatch.", "torch.overrides.", "torch.autograd.graph.",
        "torch.profiler.", "torch.autograd.profiler.", "torch._subclasses.", "torch.fx.", "torch.jit.", "torch.export.",
        "torch._dynamo.", "torch.compile", "fvcore.", "thop.", "ptflops.", "torchinfo.", "deepspeed.",
    ),
    attributes=frozenset({"FlopCounterMode", "TorchDispatchMode", "TorchFunctionMode", "saved_tensors_hooks", "save_on_cpu",
                          "get_total_flops", "get_flop_counts", "FakeTensorMode", "register_forward_hook", "register_hook"}),
    strings=frozenset({"meta"}),
    defines=frozenset({"__torch_dispatch__", "__torch_function__"}),
)
NO_MODEL_RUN = Rule(
    "no-model-count",
    "Problem 7 asks you to count from the architecture, not to build a model or optimizer and measure it",
    names=("torch.nn.", "torch.optim.", f"{PACKAGE}.model.", f"{PACKAGE}.optimizers.", f"{PACKAGE}.training.", "solutions."),
    allowed=("torch.nn.functional.",),
    methods=frozenset({"parameters", "named_parameters", "buffers", "state_dict", "modules", "children", "backward"}),
)
OWN_STEP = Rule(
    "no-torch-optim-algorithm",
    "Problem 6 asks you to write the step yourself on torch.optim.Optimizer (plain and _foreach_ tensor ops are fine)",
    names=("torch.optim.",),
    allowed=("torch.optim.Optimizer", "torch.optim.optimizer."),
    attribute_prefixes=("_fused_", "_single_tensor_", "_multi_tensor_"),
    whole_module=True,
)
OWN_TIMING = Rule(
    "no-benchmark-helper",
    "Problem 4 asks you to time it yourself (a clock, warm-up, synchronisation, the median)",
    names=("torch.utils.benchmark.", "torch.profiler.", "torch.autograd.profiler.", "triton.testing."),
)

# (module, function or class) -> the rules it must keep.
DERIVED_PROBLEM_1 = ("float_format", "bytes_per_element", "tensor_num_bytes", "machine_epsilon", "max_finite", "smallest_normal", "underflows_to_zero")
COUNTING_PROBLEM_4 = ("matmul_flops", "linear_forward_flops", "linear_backward_flops", "linear_stack_training_flops", "training_flops",
                      "training_days", "max_trainable_params", "model_flops_utilization")
COUNTING_PROBLEM_7 = ("cruncher_num_parameters", "cruncher_num_activations", "optimizer_state_values", "training_memory",
                      "bytes_per_parameter", "mixed_precision_memory")
RULES: dict[tuple[str, str], tuple[Rule, ...]] = {
    **{("tensors", f): (DTYPE_LOOKUP, PROBING_CAST) for f in DERIVED_PROBLEM_1},
    **{("strides", f): (ASK_A_TENSOR,) for f in ("contiguous_strides", "flat_offset", "is_contiguous", "transpose", "narrow", "view")},
    ("named_dims", "causal_mask"): (NO_TRIANGLE,),
    **{("flops", f): (NO_COUNTER,) for f in COUNTING_PROBLEM_4},
    ("flops", "time_matmul"): (OWN_TIMING,),
    ("flops", "measured_mfu"): (NO_COUNTER, OWN_TIMING),
    **{("optimizers", c): (OWN_STEP,) for c in ("SGD", "AdaGrad", "AdamW")},
    **{("accounting", f): (NO_COUNTER, NO_MODEL_RUN) for f in COUNTING_PROBLEM_7},
}

# The einsum-only rule of Problem 3, read off the text: the static counterpart of the torch function
# mode that records what the five functions execute (tests/drivers/named_dims.py), so that switching
# the recorder off (torch._C.DisableTorchFunction, ...) hides nothing. The API's forbidden list.
EINSUM_FORBIDDEN = frozenset({"matmul", "mm", "bmm", "tensordot", "transpose", "permute", "view", "reshape", "flatten",
                              "unsqueeze", "expand", "T", "mT", "mean", "sum", "tril", "triu"})
EINSUM_ONLY = Rule(
    "einsum-only",
    "Problem 3's rule: only torch.einsum and einops do the tensor work",
    attributes=EINSUM_FORBIDDEN,
)
EINSUM_FUNCTIONS = ("pairwise_scores", "mean_over_hidden", "linear", "per_head_linear", "causal_mask")


@dataclass(frozen=True)
class Breach:
    function: str
    rule: Rule
    use: Use

    def message(self) -> str:
        what = {"name": self.use.text, "attribute": f".{self.use.text}", "method": f".{self.use.text}()",
                "keyword": f"{self.use.text}= (a cast)", "string": repr(self.use.text), "define": f"def {self.use.text}",
                "operator": self.use.text, "index": "x[..., None]"}[self.use.kind]
        through = "" if self.use.via == self.function else f" (through {self.use.via})"
        return (f"{self.function} uses {what} at assignment/{self.use.module}.py line {self.use.line}{through}; "
                f"{self.rule.why} ({HANDOUT}: {self.rule.name}).")


class OwnWorkViolation(AssertionError):
    """A test reached a function that breaks its own-work rule: the function scores 0."""


def first_breach(submission: Submission, module: str, name: str, rules: tuple[Rule, ...]) -> Breach | None:
    """The breach at the earliest line (the same one every time), or None."""
    found = [(use.module != module, use.line, Breach(name, rule, use))
             for use in submission.uses(module, name) for rule in rules if rule.match(use)]
    found += [(False, use.line, Breach(name, rule, use))
              for rule in rules if rule.whole_module for use in submission.module_uses(module) if rule.match(use)]
    return min(found, key=lambda item: item[:2])[2] if found else None


def breaches(sources: Mapping[str, str], package: str = PACKAGE) -> dict[tuple[str, str], Breach]:
    """Every ruled function of the submission that breaks its rule -> the breach."""
    return Checker(lambda: sources, package).breaches()


def einsum_breach(sources: Mapping[str, str], function: str, package: str = PACKAGE) -> Breach | None:
    """The einsum-only rule read off `named_dims.<function>`'s text (and what it reaches)."""
    return first_breach(Submission(sources, package), "named_dims", function, (EINSUM_ONLY,))


class Checker:
    """One implementation's own-work verdicts, each computed from its source the first time a test
    reaches its function (a problem's tests reach that problem's functions only)."""

    def __init__(self, read_sources: Callable[[], Mapping[str, str]], package: str = PACKAGE):
        self._read, self._package = read_sources, package
        self._submission: Submission | None = None
        self._verdicts: dict[tuple[str, str], Breach | None] = {}

    def _breach(self, module: str, name: str) -> Breach | None:
        if (module, name) not in self._verdicts:
            if self._submission is None:
                self._submission = Submission(self._read(), self._package)
            self._verdicts[(module, name)] = first_breach(self._submission, module, name, RULES[(module, name)])
        return self._verdicts[(module, name)]

    def breaches(self) -> dict[tuple[str, str], Breach]:
        """Every ruled function of the implementation that breaks its rule -> the breach."""
        found = {key: self._breach(*key) for key in RULES}
        return {key: breach for key, breach in found.items() if breach is not None}

    def check(self, module: str, name: str) -> None:
        """Raise OwnWorkViolation if `module.name` breaks its rule (a test is about to reach it)."""
        __tracebackhide__ = True  # pytest shows the test's line and the message, not this frame
        if (module, name) in RULES:
            breach = self._breach(module, name)
            if breach is not None:
                raise OwnWorkViolation(breach.message())

    def check_driver(self, driver: Callable[..., Any], inputs: Mapping[str, Any]) -> None:
        __tracebackhide__ = True
        for module, name in sorted(driver_reaches(driver, inputs)):
            self.check(module, name)


def driver_reaches(driver: Callable[..., Any], inputs: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The ruled (module, name) pairs a driver drives, read off its text: `impl.M.F`, and
    `getattr(impl.M, x)` with x a literal, one of the inputs, or a string the driver holds."""
    return set(_driver_reaches(driver, frozenset(v for v in inputs.values() if isinstance(v, str))))


@functools.lru_cache(maxsize=None)  # our drivers' text does not change: read once per module, not per call
def _driver_module(module: types.ModuleType) -> Submission:
    return Submission({"driver": inspect.getsource(module)}, package="tests.drivers")


@functools.lru_cache(maxsize=None)  # once per driver and string inputs
def _driver_reaches(driver: Callable[..., Any], input_strings: frozenset) -> frozenset[tuple[str, str]]:
    submission = _driver_module(inspect.getmodule(driver))
    reached, open_modules, strings = set(), set(), set(input_strings)
    for definition in _reach(submission, driver.__name__):
        aliases: dict[str, str] = {}
        for node in ast.walk(definition):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                module = _impl_module(node.value, aliases)
                if module:
                    aliases[node.targets[0].id] = module
            elif isinstance(node, ast.Attribute):
                module = _impl_module(node.value, aliases)
                if module:
                    reached.add((module, node.attr))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and node.args:
                module = _impl_module(node.args[0], aliases)
                literal = literal_getattr(node)
                if module and literal:
                    reached.add((module, literal[1]))
                elif module:
                    open_modules.add(module)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    reached |= {(module, name) for module in open_modules for name in strings}
    return frozenset(pair for pair in reached if pair in RULES)


def _reach(submission: Submission, name: str) -> list[ast.AST]:
    """The definitions `name` reaches in its own module (its helpers), each once."""
    module = submission.modules["driver"]
    seen, todo, found = set(), [name], []
    while todo:
        current = todo.pop()
        if current in seen or current not in module.definitions:
            continue
        seen.add(current)
        for definition in module.definitions[current]:
            found.append(definition)
            todo += [n.id for n in ast.walk(definition) if isinstance(n, ast.Name) and n.id in module.definitions]
    return found


def _impl_module(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """`impl.optimizers` -> "optimizers"; a local bound to it likewise."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "impl":
        return node.attr
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    return None
