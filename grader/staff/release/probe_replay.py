"""Step 3 of the leak probe: call a candidate next to the reference on the recorded calls of an API
function, on the same copies of the arguments and with every RNG seeded alike, each call time-limited,
and judge whether it could pass the function's tests or computes its answers.

Part of the probe (see leak_probe.py): it runs in the bundle's copy and imports only the standard
library, torch, numpy and the probe's own modules.
"""

from __future__ import annotations

import copy
import random

# The probe's parts import one another by file name: leak_probe.py puts their folder on sys.path.
from probe_limits import limited
from probe_values import opaque, plain, same, state_of, structure

CALL_SECONDS = 5.0  # one candidate call; a slower one counts as a miss


def seeded(call):
    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    return limited(call, CALL_SECONDS)


class Replay:
    """A candidate against the reference on the recorded calls of one target."""

    def __init__(self, reference, calls: list):
        self.reference = reference
        self.calls = calls
        self._expected = None

    def expected(self) -> list:
        """Per call: the reference's outcome and the arguments' state after it."""
        if self._expected is None:
            self._expected = []
            for args, kwargs, _ in self.calls:
                a, k = copy.deepcopy((args, kwargs))
                status, value = seeded(lambda: self.reference(*a, **k))
                self._expected.append((status, plain(value) if status == "ok" else value, state_of([a, k])))
        return self._expected

    def judge(self, candidate) -> tuple[bool, bool]:
        """(could pass its tests: raises where the reference raises, and returns something of the
        same structure elsewhere; computes its answers: on every call where the reference returns,
        the same value and the arguments left alike, the reference's values not all one constant).

        Where the reference raises, any behaviour still computes: a student adds the check."""
        could_pass = computes = True
        answers = set()
        for (args, kwargs, _), (status, value, after) in zip(self.calls, self.expected()):
            if status == "timeout":
                continue  # the reference itself is too slow here: this call says nothing
            a, k = copy.deepcopy((args, kwargs))
            got_status, got = seeded(lambda: candidate(*a, **k))
            if status == "raised":
                could_pass &= got_status == "raised" and issubclass(got, value)
                continue
            if got_status != "ok":
                return False, False
            got = plain(got)
            if structure(got) != structure(value) and not same(got, value):
                return False, False
            if value is None or opaque(value) or not same(got, value) or not same(state_of([a, k]), after):
                computes = False
            else:
                answers.add(repr(value))
        return could_pass, computes and len(answers) > 1

