"""Every number the handout states that is not an answer the students derive, recomputed.

Each test names the handout's words it checks (they must still be there: change the text and
this test with it) and computes the number from PyTorch itself, never from our reference.
"""

import math
import re

import numpy as np
import pytest
import torch

from seam import REPO_ROOT

pytestmark = pytest.mark.project

HANDOUT = (REPO_ROOT / "handout.md").read_text()
FP8 = (torch.float8_e4m3fn, torch.float8_e5m2)


def states(*phrases: str) -> None:
    """The handout still says each phrase (whitespace and line breaks aside)."""
    flat = re.sub(r"\s+", " ", HANDOUT)
    for phrase in phrases:
        assert re.sub(r"\s+", " ", phrase) in flat, f"the handout no longer says {phrase!r}: update this test"


def layout(dtype: torch.dtype) -> tuple[int, int, int]:
    """(sign, exponent, mantissa) bits read off torch.finfo: eps is 2**-mantissa."""
    info = torch.finfo(dtype)
    mantissa = round(-math.log2(info.eps))
    return 1, info.bits - 1 - mantissa, mantissa


def every_value(dtype: torch.dtype) -> torch.Tensor:
    """All 256 bit patterns of a float8 format, decoded by PyTorch."""
    return torch.arange(256, dtype=torch.int32).to(torch.uint8).view(dtype).float()


def stored(value: float, dtype: torch.dtype) -> float:
    return torch.tensor(value, dtype=torch.float64).to(dtype).double().item()


def test_bit_layouts():
    states("float32 is `(1, 8, 23)`", "bfloat16 keeps float32's 8 exponent bits")
    assert layout(torch.float32) == (1, 8, 23)
    assert layout(torch.bfloat16)[1] == layout(torch.float32)[1] == 8
    assert {name: layout(getattr(torch, name)) for name in ("float64", "float16", "float8_e4m3fn", "float8_e5m2")} == {
        "float64": (1, 11, 52), "float16": (1, 5, 10), "float8_e4m3fn": (1, 4, 3), "float8_e5m2": (1, 5, 2)}


def test_float16_and_float8_constants():
    states("For float16: eps `2**-10`, max 65504, smallest normal `2**-14`",
           "`torch.finfo(torch.float8_e4m3fn).max` is 448, not the 240 the IEEE rule would give",
           "float8_e5m2 follows the IEEE rule (max 57344)")
    half = torch.finfo(torch.float16)
    assert (half.eps, half.max, half.smallest_normal) == (2**-10, 65504, 2**-14)
    assert torch.finfo(torch.float8_e4m3fn).max == 448 == every_value(torch.float8_e4m3fn).nan_to_num(0).max()
    bias, mantissa = 7, 3  # the IEEE rule: the all-ones exponent (15) reserved, so the largest is 14
    assert (2 - 2**-mantissa) * 2.0 ** (14 - bias) == 240
    assert torch.finfo(torch.float8_e5m2).max == 57344


def test_fp8_smallest_subnormals_and_underflow():
    states("their smallest subnormals are 2**-9 (e4m3fn) and 2**-16 (e5m2), so a value at most half of that "
           "(2**-10, 2**-17) rounds to 0")
    for dtype, smallest in zip(FP8, (2**-9, 2**-16)):
        values = every_value(dtype)
        assert values[values > 0].min().item() == smallest
        assert stored(smallest / 2, dtype) == 0 and stored(-smallest / 2, dtype) == 0
        assert stored(smallest / 2 * (1 + 1e-3), dtype) == smallest


def test_fp8_overflow():
    states("e5m2 gives inf from 61440 up", "clips it at 448", "may give NaN for a value above 464")
    below = float(np.nextafter(np.float32(61440), np.float32(0)))
    assert stored(below, torch.float8_e5m2) == 57344 and stored(61440, torch.float8_e5m2) == math.inf
    assert stored(464, torch.float8_e4m3fn) == 448  # the tie between 448 and 480 goes to the even 448
    above = [stored(v, torch.float8_e4m3fn) for v in (465, 1e5)]
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    assert all(v == 448 or math.isnan(v) for v in above)
    if version >= (2, 13):
        assert above == [448, 448], f"torch {torch.__version__} does not saturate: the handout says it does"


def test_fp8_worked_example():
    states("`x = [1e5, -3, 1e-3, 0]` into float8_e4m3fn has scale 448/1e5; q holds 448",
           "and 0 for 1e-3, which is 1e8 times smaller than the largest value", "float8_e5m2 keeps it")
    x = torch.tensor([1e5, -3, 1e-3, 0])
    for dtype, keeps_small in zip(FP8, (False, True)):
        q = (x * (torch.finfo(dtype).max / 1e5)).to(dtype).float()
        assert q[0] == torch.finfo(dtype).max and (q[2] != 0) == keeps_small


def test_fp8_scale_in_bfloat16_is_off_by_nearly_2_to_the_minus_8():
    states("in bfloat16 the quotient alone can be off by nearly 2**-8")
    amax = torch.linspace(1e-3, 1e3, 100_000, dtype=torch.float64).to(torch.bfloat16)
    exact = 448 / amax.double()
    worst = ((torch.tensor(448.0, dtype=torch.bfloat16) / amax).double() / exact - 1).abs().max().item()
    assert 2**-8.5 < worst <= 2**-8


def test_bfloat16_loses_updates_below_half_an_ulp():
    states("a bfloat16 weight loses any update smaller than half the gap to its neighbours, half an ulp: "
           "between `2**-9` and `2**-8` of the weight")
    g = torch.Generator().manual_seed(0)
    w = torch.randn(20_000, generator=g, dtype=torch.float64) * 10.0 ** torch.randint(-3, 4, (20_000,), generator=g)
    w = w.to(torch.bfloat16).double()
    sign = torch.where(torch.rand(20_000, generator=g) < 0.5, -1.0, 1.0).double()
    small = w + sign * w.abs() * 2**-9 * 0.99
    large = w + sign * w.abs() * 2**-8 * 1.01
    assert torch.equal(small.to(torch.bfloat16).double(), w), "an update below 2**-9 of the weight survived"
    assert not (large.to(torch.bfloat16).double() == w).any(), "an update above 2**-8 of the weight was lost"


def test_underflow_and_sizes():
    states("`1e-8` underflows in float16 (True) but not in bfloat16 (False)",
           "a (4, 8) float32 tensor takes 128 bytes, a (4096, 4096) bfloat16 weight 32 MiB")
    assert stored(1e-8, torch.float16) == 0 and stored(1e-8, torch.bfloat16) != 0
    assert torch.empty(4, 8).nbytes == 128
    assert torch.empty(4096, 4096, dtype=torch.bfloat16, device="meta").nbytes == 32 * 2**20


def test_strides_examples():
    states("`(2, 0, 3) -> (3, 3, 1)`, `(4, 5) -> (5, 1)`", "index `(1, 2)`, strides `(5, 1)`, offset 3 gives 10",
           "`(2, 3), (3, 1)` with dims `0, -1` gives `((3, 2), (1, 3))`",
           "offset 0, `narrow(1, 2, 3)` gives `((4, 3), (5, 1), 2)`",
           "A contiguous `(4, 5)` viewed as `(2, 10)` gives `(10, 1)`",
           "narrowing a 0-d tensor, which PyTorch refuses with a `RuntimeError`",
           "a `narrow` start outside `[-size, size]`")
    assert torch.empty(2, 0, 3).stride() == (3, 3, 1) and torch.empty(4, 5).stride() == (5, 1)
    storage = torch.arange(100)
    assert storage.as_strided((4, 5), (5, 1), 3)[1, 2].item() == 10
    t = torch.empty(2, 3).transpose(0, -1)
    assert (tuple(t.shape), t.stride()) == ((3, 2), (1, 3))
    n = torch.arange(20).view(4, 5).narrow(1, 2, 3)
    assert (tuple(n.shape), n.stride(), n.storage_offset()) == ((4, 3), (5, 1), 2)
    assert torch.empty(4, 5).view(2, 10).stride() == (10, 1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.empty(4, 5).t().view(20)
    with pytest.raises(RuntimeError, match="0-dim"):
        torch.tensor(1.0).narrow(0, 0, 1)
    with pytest.raises(IndexError):
        torch.empty(4).narrow(0, 5, 0)


def test_optimizer_examples():
    states("With p = [1, −2], grad = [0.5, 1] and\n  lr = 0.1, one step gives [0.95, −2.1]",
           "p = 0.942265 after the first step, 0.866672\n  after the second, and `g2` = 1.25")
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    p.grad = torch.tensor([0.5, 1.0])
    torch.optim.SGD([p], lr=0.1).step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.95, -2.1]))
    lr, eps, value, g2, trajectory = 0.1, 0.5, 1.0, 0.0, []
    for grad in (0.5, 1.0):
        g2 += grad**2
        value -= lr * grad / math.sqrt(g2 + eps)
        trajectory.append(round(value, 6))
    assert trajectory == [0.942265, 0.866672] and g2 == 1.25


def test_truncated_normal_spread():
    states("1/32 × 0.987 (truncation at 3 std removes about 2.7% of the variance)")
    kept = 1 - 6 * math.exp(-4.5) / math.sqrt(2 * math.pi) / math.erf(3 / math.sqrt(2))
    assert round(math.sqrt(kept), 3) == 0.987 and round(100 * (1 - kept), 1) == 2.7


def test_checkpoint_cadence_example():
    states("with\n  `checkpoint_every=3` over 8 steps, saves happen after steps 2 and 5 (iterations 3 and 6)")
    saves = [s for s in range(8) if (s + 1) % 3 == 0]
    assert saves == [2, 5] and [s + 1 for s in saves] == [3, 6]
