"""The stubs' jaxtyping annotations are ones the runtime checker accepts, and the reference keeps them.

Students are told to run their code under jaxtyped(typechecker=beartype) (problem 1's fp8
functions are graded that way), so every annotation a stub hands them must decorate
cleanly, and the reference must promise the same shapes as the stubs.
"""

import inspect

import pytest
from beartype import beartype
from jaxtyping import AbstractArray, jaxtyped

from seam import MODULES, REPO_ROOT, load_in_process

pytestmark = pytest.mark.project


def annotated_callables(module):
    """(qualified name, function) for every function and method the module defines with an array annotation."""
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        members = [(name, obj)] if inspect.isfunction(obj) else [
            (f"{name}.{attr}", fn) for attr, fn in vars(obj).items() if inspect.isfunction(fn)
        ] if inspect.isclass(obj) else []
        for qualified, fn in members:
            hints = inspect.get_annotations(fn)
            if any(isinstance(h, type) and issubclass(h, AbstractArray) for h in _flatten(hints.values())):
                yield qualified, fn


def _flatten(hints):
    for hint in hints:
        yield hint
        yield from _flatten(getattr(hint, "__args__", ()))


def array_signature(fn) -> dict:
    return {name: str(hint) for name, hint in inspect.get_annotations(fn).items()}


@pytest.mark.parametrize("module", MODULES)
def test_stub_annotations_decorate_under_the_runtime_checker(module):
    """jaxtyped(typechecker=beartype) accepts every array annotation in the stubs and the reference."""
    for spec in (".", "solutions"):
        impl = load_in_process(spec if spec == "solutions" else str(REPO_ROOT), REPO_ROOT)
        for qualified, fn in annotated_callables(getattr(impl, module)):
            jaxtyped(typechecker=beartype)(fn)  # raises on a hint beartype or jaxtyping cannot check


@pytest.mark.parametrize("module", MODULES)
def test_reference_promises_the_stubs_shapes(module):
    """Each annotated stub function has a reference twin with the same annotations."""
    stubs = dict(annotated_callables(getattr(load_in_process(str(REPO_ROOT), REPO_ROOT), module)))
    reference = dict(annotated_callables(getattr(load_in_process("solutions", REPO_ROOT), module)))
    for qualified, fn in stubs.items():
        assert qualified in reference, f"{module}.{qualified} has no annotated reference"
        assert array_signature(reference[qualified]) == array_signature(fn), f"{module}.{qualified}"


def test_the_fp8_stubs_are_annotated():
    """The functions graded under the checker carry array annotations (a guard against losing them)."""
    stubs = dict(annotated_callables(load_in_process(str(REPO_ROOT), REPO_ROOT).tensors))
    assert {"fp8_scale", "quantize_fp8", "dequantize_fp8"} <= set(stubs)
