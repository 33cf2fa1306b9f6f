"""Problem 3: einsum and einops rewrites of index-juggling PyTorch code.

Code like `x @ y.transpose(-2, -1)` works, but nothing in it says which axis is which:
swap two dims by mistake and it still runs whenever the sizes happen to agree. Here you
rewrite five such expressions so that every axis has a name.

The rule (checked per function, 0.3 points each, paid only where that function is also
right): the five functions may do their tensor work only with `torch.einsum`,
`einops.einsum`, `einops.rearrange`, `einops.reduce` and `einops.repeat`. The test runs
each function under a torch function mode that records every torch call it EXECUTES
(wherever the code lives, this file or another) and allows besides those only:
  - elementwise arithmetic and comparisons (`+ - * / **`, `< <= > >= == !=`, `& | ~`),
  - `torch.arange`, `torch.ones`, `tril`, `triu`,
  - reading `.shape`, `.ndim`, `.dtype`, `.device`, `.size()`, `.dim()`, `.numel()`, `len()`,
    and `.to(dtype)`, `.bool()`, `.float()`, `.double()`.
Anything else is out: `@`, `matmul`, `mm`, `bmm`, `tensordot`, `transpose`, `permute`,
`view`, `reshape`, `flatten`, `unsqueeze`, `expand`, indexing such as `x[:, None]`, `.T`,
`.mT`, `mean`, `sum`. What einops does inside its own functions (rearrange reshapes and
permutes for you) is fine. Docstrings and comments may mention anything.

einops in one example: with `x` of shape (2, 3, 4),
`einops.einsum(x, w, "batch seq d_in, d_in d_out -> batch seq d_out")` contracts `d_in`,
`einops.rearrange(x, "b s (h d) -> b s h d", h=2)` splits the last axis into (2, 2), and
`einops.reduce(x, "b s d -> b s", "max")` reduces `d`. A leading `...` stands for any
number of batch dims (zero included).
"""

import einops  # noqa: F401  (you will need it)
import torch  # noqa: F401
from jaxtyping import Bool, Float
from torch import Tensor


def pairwise_scores(
    x: Float[Tensor, "... seq1 hidden"], y: Float[Tensor, "... seq2 hidden"]
) -> Float[Tensor, "... seq1 seq2"]:
    """Dot product of every row of `x` with every row of `y`.

    The original: `x @ y.transpose(-2, -1)`. Both inputs have the same leading batch
    dims (possibly none). Example: x of shape (2, 3, 4) and y of shape (2, 5, 4) give
    shape (2, 3, 5), and out[b, i, j] = sum over h of x[b, i, h] * y[b, j, h].
    """
    raise NotImplementedError("Problem 3 (named_dims.pairwise_scores): contract `hidden` with an einsum")


def mean_over_hidden(x: Float[Tensor, "... hidden"]) -> Float[Tensor, "..."]:
    """Average over the last axis.

    The original: `x.mean(dim=-1)`. Shape (2, 3, 4) -> (2, 3); shape (4,) -> () (a 0-d
    tensor). Keep PyTorch's behaviour for an empty `hidden` axis (NaN) and the input's dtype.
    """
    raise NotImplementedError("Problem 3 (named_dims.mean_over_hidden): reduce `hidden` with einops")


def linear(x: Float[Tensor, "... d_in"], weight: Float[Tensor, "d_in d_out"]) -> Float[Tensor, "... d_out"]:
    """`x` times `weight`, for any number of leading dims.

    The original: `x @ weight`. Shape (2, 3, 4) with a (4, 6) weight -> (2, 3, 6).
    """
    raise NotImplementedError("Problem 3 (named_dims.linear): contract `d_in` with an einsum")


def per_head_linear(
    x: Float[Tensor, "... seq heads_d_in"], weight: Float[Tensor, "d_in d_out"], num_heads: int
) -> Float[Tensor, "... seq heads_d_out"]:
    """Split the last axis into heads, apply `weight` to each head, merge the heads back.

    The last axis of `x` is `(heads d_in)`: head h owns columns h*d_in .. (h+1)*d_in - 1.
    The original:

        *lead, last = x.shape
        per_head = x.reshape(*lead, num_heads, last // num_heads)   # ... seq heads d_in
        out = per_head @ weight                                     # ... seq heads d_out
        return out.reshape(*lead, -1)                               # ... seq (heads d_out)

    Example: x of shape (2, 5, 12), num_heads=3, weight (4, 7) -> shape (2, 5, 21).
    The same weight serves every head.
    """
    raise NotImplementedError(
        "Problem 3 (named_dims.per_head_linear): split with rearrange, einsum, merge with rearrange"
    )


def causal_mask(seq_len: int) -> Bool[Tensor, "query key"]:
    """A (seq_len, seq_len) bool mask, True where query i may attend to key j: j <= i.

    The original: `torch.ones(seq_len, seq_len).tril().bool()`. For seq_len=3:
        [[True, False, False],
         [True, True,  False],
         [True, True,  True ]]
    Hint: compare a column of positions with a row of positions (rearrange can add a
    size-1 axis).
    """
    raise NotImplementedError("Problem 3 (named_dims.causal_mask): True where key <= query")
