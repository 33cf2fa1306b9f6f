"""UNTRUSTED SIDE: everything in this package runs inside the sandbox, next to student code.

It may import only grader.protocol.wire, seam (the in-process loader) and tests.drivers (our drivers), never the
reference, the oracles (tests/oracles/), the hidden tests or the grader's trusted modules. What it sends back is plain
data that the trusted side decodes without running code (grader/protocol/wire.py); nothing it says
is believed beyond that: a pass is recorded only by the trusted side.
"""
