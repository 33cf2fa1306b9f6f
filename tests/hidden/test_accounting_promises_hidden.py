"""Problem 7 (hidden): keyword arguments drawn one at a time, and names in the wrong case.

The suites' recipes always pass the dtypes together, and always with the gradient in the weights'
dtype and the state in the master copy's: a function that read one keyword for another would pass
them. Here each keyword is present or absent on its own (absent: the documented default), with
any dtype, and the reference (`ref`, trusted side) gives the answer.
"""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import strategies as S

pytestmark = pytest.mark.accounting

DTYPES = st.sampled_from([torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn])
KEYWORDS = {"weight_dtype": DTYPES, "grad_dtype": DTYPES, "master_dtype": st.one_of(st.none(), DTYPES), "state_dtype": DTYPES}
OPTIMIZERS = st.sampled_from(S.ACCOUNTING_OPTIMIZERS)


@settings(max_examples=60)
@given(optimizer=st.one_of(st.none(), OPTIMIZERS), by_keyword=st.booleans(),
       keywords=st.fixed_dictionaries({}, optional=KEYWORDS))
@example(optimizer=None, by_keyword=False, keywords={"grad_dtype": torch.float32}).via("the gradient alone")
@example(optimizer="adamw", by_keyword=False, keywords={"state_dtype": torch.bfloat16}).via("the state alone")
@example(optimizer="adagrad", by_keyword=True, keywords={"master_dtype": None}).via("no master copy alone")
@example(optimizer="sgd", by_keyword=False, keywords={"weight_dtype": torch.float64}).via("the weights alone")
@example(optimizer=None, by_keyword=False, keywords={"weight_dtype": torch.float32, "grad_dtype": torch.bfloat16,
                                                     "master_dtype": torch.float16, "state_dtype": torch.float64})
def test_bytes_per_parameter_keywords_one_at_a_time(impl, ref, optimizer, by_keyword, keywords):
    """Each dtype keyword counts only its own kind of value (grad_dtype the gradient, state_dtype the state, ...), whatever the others are."""
    args = () if optimizer is None or by_keyword else (optimizer,)
    named = {**keywords, **({"optimizer": optimizer} if optimizer is not None and by_keyword else {})}
    want = ref.accounting.bytes_per_parameter(*args, **named)
    got = impl.accounting.bytes_per_parameter(*args, **named)
    assert type(got) is int and got == want


@settings(max_examples=40)
@given(sizes=S.cruncher_sizes(), optimizer=OPTIMIZERS,
       keywords=st.fixed_dictionaries({}, optional={**KEYWORDS, "activation_dtype": DTYPES}))
@example(sizes=(2, 4, 2), optimizer="adamw", keywords={"grad_dtype": torch.float32})
@example(sizes=(3, 2, 1), optimizer="adagrad", keywords={"state_dtype": torch.float16})
@example(sizes=(2, 3, 2), optimizer="adamw", keywords={"activation_dtype": torch.float32})
@example(sizes=(1, 2, 0), optimizer="sgd", keywords={"master_dtype": torch.float64})
def test_mixed_precision_memory_keywords_one_at_a_time(impl, ref, sizes, optimizer, keywords):
    """mixed_precision_memory: each keyword changes only its own field (and the total), the others keep their defaults."""
    batch_size, dim, num_layers = sizes
    want = ref.accounting.mixed_precision_memory(dim, num_layers, batch_size, optimizer, **keywords)
    got = impl.accounting.mixed_precision_memory(dim, num_layers, batch_size, optimizer, **keywords)
    assert tuple(got) == tuple(want) and all(type(v) is int for v in got)


@pytest.mark.parametrize("name", ["SGD", "AdamW", "Adagrad", "ADAMW", "adamw ", "AdaGrad"])
def test_optimizer_names_are_lower_case_only(impl, ref, name):
    """Names are lower case; "AdamW", "SGD" and the like are other names, so every function taking one raises ValueError."""
    known = name.strip().lower()  # the refusal pays only where the lower-case name works
    assert impl.accounting.optimizer_state_values(10, known) == ref.accounting.optimizer_state_values(10, known)
    calls = [
        lambda: impl.accounting.optimizer_state_values(10, name),
        lambda: impl.accounting.training_memory(4, 2, 2, name),
        lambda: impl.accounting.bytes_per_parameter(name),
        lambda: impl.accounting.mixed_precision_memory(4, 2, 2, name),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()


@pytest.mark.parametrize("how", ["positional", "keyword", "optimizer_only", "bytes_only"])
def test_training_memory_arguments_by_position_or_keyword(impl, ref, how):
    """optimizer and bytes_per_value may be passed by position or keyword, each on its own (the other keeps its default)."""
    args, kwargs = {
        "positional": ((5, 3, 2, "adamw", 2), {}),
        "keyword": ((5, 3, 2), {"optimizer": "sgd", "bytes_per_value": 8}),
        "optimizer_only": ((5, 3, 2), {"optimizer": "adamw"}),
        "bytes_only": ((5, 3, 2), {"bytes_per_value": 2}),
    }[how]
    got = impl.accounting.training_memory(*args, **kwargs)
    assert tuple(got) == tuple(ref.accounting.training_memory(*args, **kwargs)) and all(type(v) is int for v in got)
