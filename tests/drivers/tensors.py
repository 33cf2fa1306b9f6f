"""Drivers for problem 1: the fp8 functions run under jaxtyping's runtime checker.

jaxtyped(typechecker=beartype) checks every call against the function's own annotations
(`Float[Tensor, "*shape"]`, `Float[Tensor, ""]`): dtype category, rank and that named
axes agree across arguments and the result. The driver wraps the implementation's
functions, makes calls that agree with the spec'd annotations and one that does not,
and reports plain data: what passed, and what the wrong call raised.
"""

import torch
from beartype import beartype
from jaxtyping import TypeCheckError, jaxtyped


def _checked(impl, name: str):
    return jaxtyped(typechecker=beartype)(getattr(impl.tensors, name))


def _outcome(call) -> str:
    """'ok', 'TypeCheckError: ...' (the checker caught it) or 'OtherError: ...'."""
    try:
        call()
    except TypeCheckError as error:
        return f"TypeCheckError: {str(error).splitlines()[0]}"
    except NotImplementedError:  # an unfinished function: the test says so, not "wrong result"
        raise
    except Exception as error:  # a failure the checker did not catch
        return f"{type(error).__name__}: {error}"
    return "ok"


def fp8_under_the_checker(impl, x: torch.Tensor, dtype: str, wrong_scale_shape: list) -> dict:
    """Right calls of fp8_scale, quantize_fp8 and dequantize_fp8 under the checker, then a
    dequantize_fp8 whose scale has `wrong_scale_shape` instead of being 0-d."""
    fp8 = getattr(torch, dtype)
    scale_fn, quantize, dequantize = (_checked(impl, n) for n in ("fp8_scale", "quantize_fp8", "dequantize_fp8"))
    result = {"scale": _outcome(lambda: scale_fn(x, fp8))}
    made = {}
    result["quantize"] = _outcome(lambda: made.update(q_scale=quantize(x, fp8)))
    if "q_scale" in made:
        q, scale = made["q_scale"]
        result["dequantize"] = _outcome(lambda: dequantize(q, scale))
        wrong = torch.ones(wrong_scale_shape, dtype=torch.float32, device=x.device)
        result["wrong_scale"] = _outcome(lambda: dequantize(q, wrong))
    return result
