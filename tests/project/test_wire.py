"""The protocol between the grader and the worker carries plain data and nothing else."""

import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from grader.core import results

from grader.core import variants

from grader.protocol import bounds, wire
from grader.core.machine import isolation_level
from seam import REPO_ROOT

pytestmark = [pytest.mark.project, pytest.mark.e2e]


def round_trip(value):
    return wire.decode(*_parts(wire.encode(value)))


def _parts(frame: bytes) -> tuple[bytes, bytes]:
    """A frame's head and blob."""
    head_len, _ = wire.HEADER.unpack(frame[: wire.HEADER.size])
    return frame[wire.HEADER.size : wire.HEADER.size + head_len], frame[wire.HEADER.size + head_len :]


def test_plain_values_round_trip_exactly():
    value = {
        "ints": (1, -2, 2**70),
        "floats": [0.5, -0.0, float("inf")],
        "nested": {(1, 2): [None, True, "s"]},
        "dtype": torch.float8_e4m3fn,
        "device": torch.device("cpu"),
        "array": np.arange(6, dtype=np.uint16).reshape(2, 3),
    }
    back = round_trip(value)
    assert back["ints"] == (1, -2, 2**70) and type(back["ints"]) is tuple
    assert back["floats"][0] == 0.5 and str(back["floats"][1]) == "-0.0" and back["floats"][2] == float("inf")
    assert back["nested"] == {(1, 2): [None, True, "s"]}
    assert back["dtype"] is torch.float8_e4m3fn and back["device"] == torch.device("cpu")
    assert back["array"].dtype == np.uint16 and (back["array"] == value["array"]).all()


def test_views_of_one_storage_stay_views():
    base = torch.arange(12.0).reshape(3, 4)
    a, b, c = round_trip((base, base.T, base[1:, ::2]))
    assert a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() == c.untyped_storage().data_ptr()
    assert b.stride() == (1, 4) and c.storage_offset() == 4 and torch.equal(c, base[1:, ::2])
    separate = round_trip((base, base.clone()))
    assert separate[0].untyped_storage().data_ptr() != separate[1].untyped_storage().data_ptr()


def test_named_tuples_come_back_with_their_fields():
    from collections import namedtuple

    Breakdown = namedtuple("MemoryBreakdown", ["parameters", "total"])
    back = round_trip(Breakdown(3, 7))
    assert back.total == 7 and back == (3, 7) and type(back).__name__ == "MemoryBreakdown"


def test_objects_that_are_not_plain_data_are_refused_on_encode():
    class Sneaky:
        def __reduce__(self):
            return (print, ("ran",))

    with pytest.raises(wire.WireError, match="not plain data"):
        wire.encode({"x": Sneaky()})
    with pytest.raises(wire.WireError):
        wire.encode(torch.ones(2).to_sparse())


def test_decode_never_unpickles():
    class Payload:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    evil = pickle.dumps(Payload())
    with pytest.raises(wire.WireError):
        wire.decode(evil, b"")
    head = b'{"v": {"$tensor": 0}, "s": [[8, "cpu"]], "t": [[0, "float32", [4], [1], 0]]}'
    with pytest.raises(wire.WireError):  # a tensor that reaches past its storage
        wire.decode(head, b"\0" * 8)
    for bad in (b'{"v": {"$dtype": "os.system"}, "s": [], "t": []}', b'{"v": {"$nt": ["X", ["__class__"], [1]]}, "s": [], "t": []}',
                b'{"v": {"$unknown": 1}, "s": [], "t": []}', b"[" * 100000):
        with pytest.raises(wire.WireError):
            wire.decode(bad, b"")



@pytest.mark.parametrize("meta, storages, blob", [
    ([0, "float32", [True], [1], 0], [[4, "cpu"]], 4),  # a bool is not a size
    ([0, "float32", [1], [-1], 0], [[4, "cpu"]], 4),  # nor is a negative stride
    ([0, "float32", [1], 1, 0], [[4, "cpu"]], 4),  # strides not a list
    ([0, "os.system", [1], [1], 0], [[4, "cpu"]], 4),  # a tensor's dtype is torch's or nothing
    ([0, "Tensor", [1], [1], 0], [[4, "cpu"]], 4),
    ([1, "float32", [1], [1], 0], [[4, "cpu"]], 4),  # a storage that is not there
    ([0, "float32", [1], [1], 0], [[8, "cpu"]], 4),  # a storage past the blob
    ([0, "float32", [1], [1], 0], [[4, "no such device"]], 4),
    ([0, "float32", [1], [1], "0"], [[4, "cpu"]], 4),  # an offset that is not an int
    ([0, "float32", [2], [1], 1], [[4, "cpu"]], 4),  # a view past its storage's end
])
def test_malformed_tensor_metadata_is_refused(meta, storages, blob):
    head = json.dumps({"v": {"$tensor": 0}, "s": storages, "t": [meta]}).encode()
    with pytest.raises(wire.WireError):
        wire.decode(head, b"\0" * blob)


def test_separate_storages_stay_separate_and_writable_after_decoding():
    """One frame's storages are decoded out of one buffer: a write through one reaches no other."""
    a, b, c = round_trip((torch.zeros(3), torch.ones(2, dtype=torch.float64), torch.zeros(0)))
    a += 5
    assert torch.equal(b, torch.ones(2, dtype=torch.float64)) and a.tolist() == [5.0, 5.0, 5.0] and c.numel() == 0
    assert len({t.untyped_storage().data_ptr() for t in (a, b)}) == 2


def test_a_conjugate_or_negative_view_travels_as_its_values():
    z = torch.tensor([1 + 2j, 3 - 1j])
    back_conj, back_neg = round_trip((z.conj(), z.conj().imag))
    assert torch.equal(back_conj, z.conj().resolve_conj()) and not back_conj.is_conj()
    assert torch.equal(back_neg, torch.tensor([-2.0, 1.0]))

class FakeSocket:
    def __init__(self, data):
        self.data = data

    def recv(self, n):
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


def test_a_frame_over_the_limit_is_refused_before_reading_it():
    huge = struct.pack(">QQ", 10, 2**40)
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.recv(FakeSocket(huge))
    with pytest.raises(wire.ChannelClosed):
        wire.recv(FakeSocket(struct.pack(">QQ", 10, 0) + b"{"))


def test_what_a_reply_would_make_the_receiver_build_is_bounded_before_it_is_built():
    """A view's elements count as its shape claims: a 0-d tensor expanded to 2**34 elements is 8 bytes on the wire."""
    expanded = torch.tensor(1.0).expand(2**17, 2**17)
    frame = wire.encode(expanded)
    assert len(frame) < 200
    with pytest.raises(wire.WireError, match="claiming over"):
        round_trip(expanded)
    base = torch.zeros(2**20)  # 4 MiB on the wire, once
    with pytest.raises(wire.WireError, match="claiming over"):  # the same through views of one storage
        round_trip([base.expand(64, 2**20)[i] for i in range(64)])
    assert round_trip(torch.zeros(1).expand(wire.MAX_EXPANDED_ELEMENTS + 1)).shape == (wire.MAX_EXPANDED_ELEMENTS + 1,)
    with pytest.raises(wire.WireError, match="more than their storage"):  # 4 MiB claimed of 4 bytes: materialised by any comparison
        round_trip(torch.zeros(1).expand(wire.MAX_EXPANDED_ELEMENTS + 2))
    for too_much in (list(range(wire.MAX_VALUES + 1)), {i: i for i in range(wire.MAX_VALUES // 2 + 1)}, "x" * (wire.MAX_STRING_CHARS + 1)):
        with pytest.raises(wire.WireError, match="over"):
            round_trip(too_much)
    with pytest.raises(wire.WireError, match="over the limit"):  # 100 MB of text: refused unread
        round_trip("x" * 100_000_000)


def test_bounds_hold_per_test_and_per_submission_not_only_per_message():
    """A reply within every per-message bound, sent again and again, is refused once a test (or the
    submission) has had the elements (or bytes) its replies may make the trusted side hold."""
    parts = _parts(wire.encode(torch.zeros(wire.MAX_CLAIMED_ELEMENTS, dtype=torch.uint8)))  # at the bound of elements
    budget = wire.Budget()
    for _ in range(bounds.PER_SUBMISSION["elements"] // bounds.PER_TEST["elements"]):
        budget.new_test()
        for _ in range(bounds.PER_TEST["elements"] // wire.MAX_CLAIMED_ELEMENTS):
            wire.decode(*parts, budget)
        with pytest.raises(wire.WireError, match="elements in one test"):
            wire.decode(*parts, budget)
    budget.new_test()
    with pytest.raises(wire.WireError, match="elements in one submission"):
        wire.decode(*parts, budget)
    assert wire.decode(*_parts(wire.encode([1, "no tensor"])), budget) == [1, "no tensor"]  # small heads cost little
    sock = FakeSocket(wire.encode(torch.zeros(2**19)))  # a 2 MiB blob, more bytes than a test has left
    with pytest.raises(wire.WireError, match="bytes in one test"):
        wire.recv(sock, wire.Budget(per_test={"bytes": 2**20, "elements": 2**20}))
    assert len(sock.data) > 2**20  # refused before its blob was read


def test_the_largest_results_the_suites_need_are_within_the_bounds():
    """Inside: the reference's largest reply (measured) was 197,000 elements, 32 tensors, 138 values."""
    big = [torch.randn(96, 64) for _ in range(32)] + [list(range(1000)), "x" * 10_000]  # 196,608 elements
    back = round_trip(big)
    assert all(torch.equal(a, b) for a, b in zip(back[:32], big[:32])) and back[32:] == big[32:]


# Grades one submission's tensors problem in a fresh trusted process; prints its results and peak RSS.
# The peak is VmHWM, this process's own: getrusage's ru_maxrss survives execve, so it would
# start at the RSS of the (large, long-running) pytest process this one was forked from.
GRADE_AND_MEASURE = """
import json, re, sys
from pathlib import Path
from grader.core.grade import grade_one
from grader.core.limits import Limits
data = grade_one(Path(sys.argv[1]), Path(sys.argv[2]), Limits(call_seconds=8, test_seconds=30, submission_seconds=300), modules=["tensors"])
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"results": data, "peak_rss_mib": peak_kib // 1024}))
"""
# CI grades the expanded tensors (~8 s each: 2**34 elements, and 2**28 at the old per-message
# bound, which took the trusted grader to 1.8 GiB); the list, the string and replies at the new
# per-message bounds cost ~20-30 s each (the worker encodes 30-100 MB per call), so they are
# graded with GRADER_ALL_VARIANTS=1.
SMALL_BIG_REPLIES = ["unsafe_result_expanded_tensor", "reply_at_the_claim_bound"]
if os.environ.get("GRADER_ALL_VARIANTS"):
    SMALL_BIG_REPLIES += ["unsafe_result_huge_list", "unsafe_result_huge_string", "reply_at_the_new_bounds_repeatedly"]
PEAK_RSS_BOUND_MIB = 1024  # the reference's whole grading peaks at ~360 MiB here


@pytest.mark.timeout(300)
@pytest.mark.skipif(isolation_level() == "none", reason="this machine allows no sandbox namespaces")
@pytest.mark.parametrize("name", SMALL_BIG_REPLIES)
def test_a_reply_small_on_the_wire_but_huge_once_built_costs_its_problem_not_the_graders_memory(name, tmp_path):
    variant = next(v for v in variants.load_hostile() if v.name == name)
    folder = variant.build(tmp_path / name)
    finished = subprocess.run(
        [sys.executable, "-c", GRADE_AND_MEASURE, str(folder), str(tmp_path / "results.json")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=280,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    measured = json.loads(finished.stdout.strip().splitlines()[-1])
    data = measured["results"]
    score, max_score = results.per_problem(data)["tensors"]
    assert score < max_score and "unsafe-result" in {f["kind"] for f in data["extra_data"]["integrity_flags"]}
    print(f"{name}: trusted peak RSS {measured['peak_rss_mib']} MiB")
    assert measured["peak_rss_mib"] < PEAK_RSS_BOUND_MIB, f"{name}: the trusted grader grew to {measured['peak_rss_mib']} MiB"


def test_a_polled_read_takes_a_reply_that_is_there_and_still_keeps_the_deadline():
    """The grader polls for a quick call's reply before it sleeps (grader/core/sandbox.py's _Deadline):
    a reply read while polling is the same frame, and with none the read still ends at its deadline."""
    import socket
    import time

    from grader.core.sandbox import _Deadline

    ours, theirs = socket.socketpair()
    with ours, theirs:
        wire.send(theirs, {"ok": True, "value": [1, 2.5]})
        assert wire.recv(_Deadline(ours, time.monotonic() + 5, spin=0.01)) == {"ok": True, "value": [1, 2.5]}
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            wire.recv(_Deadline(ours, started + 0.2, spin=0.05))
        assert 0.2 <= time.monotonic() - started < 2
        with pytest.raises(TimeoutError):  # a spin longer than the time left polls only until the deadline
            wire.recv(_Deadline(ours, time.monotonic() + 0.05, spin=10))
