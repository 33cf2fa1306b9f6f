"""os.fork() from a warm process, with the parent's heap out of the child's garbage collector.

Every fork here copies a large heap: torch (and torch._dynamo, sympy), pytest and the grader,
over a million objects. Python's cyclic collector would walk all of them again at each full
collection in the child: pytest alone runs five at the end of a session, about 0.9 s with
torch._dynamo loaded, and a mutant's whole run takes less than that. `gc.freeze()` first moves
them to a permanent generation that collections skip (nor do they write to those pages, so
copy-on-write keeps them shared); the parent unfreezes at once and collects as before.

What the child frees of the parent's objects is still freed (reference counting); only cycles
among them outlive the child's collections, and the child is short-lived.

Not for a sandbox worker: it unfreezes before student code runs (zygote.start_worker), so that
`gc.get_objects()` there shows what it shows in any Python process (hostile.toml's attacks walk
it; hiding objects from it is no wall, and the tests must see those attacks happen).
"""

from __future__ import annotations

import gc
import os


def fork() -> int:
    """os.fork(), the parent's objects frozen in the child's collector: 0 in the child, its pid in the parent."""
    gc.freeze()
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        raise
    if pid:
        gc.unfreeze()
    return pid
