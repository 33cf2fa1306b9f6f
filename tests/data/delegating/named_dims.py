# Appended to the correct example's module by grader/core/variants.py (build_delegating):
# causal_mask handed to tril: the stub's own hint.

import torch


def causal_mask(seq_len: int) -> Tensor:
    """``query key`` booleans, True where key <= query: the stub's own hint, handed to tril."""
    return torch.ones(seq_len, seq_len).tril().bool()
