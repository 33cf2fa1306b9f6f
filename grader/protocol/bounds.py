"""What one message, one test and one submission may make the receiver build (wire.py checks
these before it builds anything), and the error that refuses the rest."""

from __future__ import annotations

# Bounds on what one message may make the receiver build, checked before it is built. The
# largest legitimate messages (the reference graded on every suite, measured) are a head of
# 17 KB (a request) and a reply of 197,000 tensor elements in a 0.8 MB blob (1.0 MB as the
# views claim), 32 tensors, 138 values, a 572-character string; no reply of the reference
# holds a view that claims more elements than its storage has. The bounds leave a margin of
# 20x or more.
MAX_HEAD_BYTES = 2 * 2**20
MAX_BLOB_BYTES = 32 * 2**20
MAX_CLAIMED_BYTES = 32 * 2**20  # what a message's tensors hold as their views claim (expanded, broadcast)
MAX_CLAIMED_ELEMENTS = 2**19  # a test that iterates a tensor makes a Python object (~600 bytes) of each element
MAX_EXPANDED_ELEMENTS = 2**16  # elements views claim beyond their storage's (stride 0): materialised by any comparison
MAX_TENSORS = 4096
MAX_DIMS = 64
MAX_VALUES = 100_000  # values in one message: list items, dict entries, tuple fields...
MAX_STRING_CHARS = 256 * 1024
MAX_DEPTH = 64
MAX_NAMEDTUPLE_TYPES = 256  # classes made for NamedTuples, over the whole process
# Bounds over many messages (a `Budget`, the trusted side's): what replies may make it hold, summed
# over one test and over one submission: bytes (the head, and the blob or what the views claim,
# whichever is more) and tensor elements (each may become a Python object, or a float64 copy).
# The reference's largest test takes 1.0 MB and 197,000 elements; all its replies 7.7 MB and 873,000.
PER_TEST = {"bytes": 128 * 2**20, "elements": 2**21}
PER_SUBMISSION = {"bytes": 2**30, "elements": 2**23}


class WireError(Exception):
    """A message that is not plain data, or a frame that is malformed."""


class Budget:
    """What replies may make the trusted side hold (bytes, tensor elements), summed over a test and a submission."""

    def __init__(self, per_test: dict[str, int] = PER_TEST, per_submission: dict[str, int] = PER_SUBMISSION):
        self.bounds = {"one test": dict(per_test), "one submission": dict(per_submission)}
        self.spent = {"one test": dict.fromkeys(per_test, 0), "one submission": dict.fromkeys(per_submission, 0)}

    def new_test(self) -> None:
        self.spent["one test"] = dict.fromkeys(self.spent["one test"], 0)

    def charge(self, **cost: int) -> None:
        """Count one message (`bytes=`, `elements=`), or refuse it (WireError) if it would go over a bound."""
        self.afford(**cost)
        for spent in self.spent.values():
            for name, amount in cost.items():
                spent[name] += amount

    def afford(self, **cost: int) -> None:
        """Refuse (WireError) a message costing `cost` that would go over a bound; count nothing."""
        for scope, bounds in self.bounds.items():
            for name, amount in cost.items():
                if self.spent[scope][name] + amount > bounds[name]:
                    raise WireError(f"replies holding over {bounds[name]:,} {name} in {scope}")
