"""What one round trip into the sandbox costs, and what it is made of.

    python bench/roundtrip.py [--calls 2000] [--perf]

Starts a real sandbox on the reference (every wall up: namespaces, seccomp, the audit hook) in
this process, as the grader does, and times calls of three sizes through `RemoteImpl`, the path
every test takes: a ping (no student code), a small call (`strides.contiguous_strides`) and a
call that sends and returns a tensor of 1 MiB (`tensors.dequantize_fp8`), and six small calls
sent one by one and as one `impl.each`. For each: the median
and mean wall time per call and the CPU time per call on each side (this process's and the
worker's, from /proc). Then a small call made after this process has been busy for a while,
as between two hypothesis examples (the worker's core idle meanwhile: on a VM, waking it costs
more the longer it slept). Then what the trusted side's own share is made of, timed in a loop here:
encoding the request and decoding the reply (grader/protocol/wire.py) and the flag log. With
--perf, `perf stat` counts the system calls of each side during the small calls (the worker's
are the ones its seccomp filter sees). Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from grader.core.remote import RemoteImpl  # noqa: E402
from grader.core.limits import Limits  # noqa: E402
from grader.core.sandbox import Sandbox  # noqa: E402


def cpu_of(pid: int) -> float:
    """User + system seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_calls(call, calls: int, worker: int) -> dict:
    """Per call: wall time (median, mean) and CPU time on each side (`worker`: its pid here)."""
    for _ in range(min(50, calls)):
        call()  # warm: first-use costs are not a round trip's
    times = []
    mine, theirs = cpu_of(os.getpid()), cpu_of(worker)
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return {
        "median_ms": statistics.median(times) * 1e3, "mean_ms": statistics.mean(times) * 1e3,
        "trusted_cpu_ms": (cpu_of(os.getpid()) - mine) / calls * 1e3, "worker_cpu_ms": (cpu_of(worker) - theirs) / calls * 1e3,
    }


def after_busy_gaps(call, gaps_ms: list[float], calls: int) -> dict[float, float]:
    """Median ms of `call()` when this process has spun for `gap` ms before each (the worker sleeping)."""
    medians = {}
    for gap in gaps_ms:
        times = []
        for _ in range(calls):
            until = time.perf_counter() + gap / 1e3
            while time.perf_counter() < until:
                pass
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        medians[gap] = statistics.median(times) * 1e3
    return medians


def per_call(work, repeats: int = 2000) -> float:
    """Microseconds per call of `work()`, in this process."""
    started = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - started) / repeats * 1e6


def syscalls_during(pids: list[int], run) -> list[int]:
    """System calls each of `pids` made while `run()` ran (perf stat on the raw_syscalls tracepoint)."""
    counters = [subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", str(pid)], stderr=subprocess.PIPE, text=True)
                for pid in pids]
    time.sleep(0.5)  # perf attaches
    run()
    counts = []
    for counter in counters:
        counter.send_signal(signal.SIGINT)
        text = counter.communicate()[1]
        counts.append(next(int(line.split(",")[0]) for line in text.splitlines() if "raw_syscalls" in line))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--perf", action="store_true", help="count system calls per call with perf stat")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roundtrip-") as scratch:
        submission = Path(scratch) / "reference"
        shutil.copytree(REPO_ROOT / "solutions", submission / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
        sandbox = Sandbox(submission, Limits(), problems=["strides", "tensors"])
        sandbox.start()
        try:
            import torch

            from grader.protocol import wire

            impl = RemoteImpl(sandbox)
            impl.begin_test("bench/roundtrip.py::calls", "strides", visible=True)
            q = torch.randn(512, 512).to(torch.float8_e4m3fn).to(torch.float32)  # 1 MiB, exactly representable
            scale = torch.tensor(2.0)
            specials = (0.0, -0.0, math.inf, -math.inf, math.nan, 1e-30)  # a hidden test's six per example
            calls = {
                "ping (no student code)": lambda: sandbox.request({"op": "ping"}, None),
                "small call (contiguous_strides)": lambda: impl.strides.contiguous_strides((2, 3, 4)),
                "1 MiB tensor each way (dequantize_fp8)": lambda: (_fresh_budget(sandbox), impl.tensors.dequantize_fp8(q, scale)),
                "6 small calls, one by one": lambda: [impl.tensors.underflows_to_zero(v, torch.float16) for v in specials],
                "6 small calls, one impl.each": lambda: list(impl.each(*((impl.tensors.underflows_to_zero, v, torch.float16) for v in specials))),
            }
            print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.calls} calls each; sandbox {sandbox.level}")
            print(f"{'call':>40} {'median ms':>10} {'mean ms':>9} {'trusted CPU ms':>15} {'worker CPU ms':>14}")
            for label, call in calls.items():
                impl.begin_test("bench/roundtrip.py::calls", "strides" if "strides" in label or "ping" in label else "tensors", visible=True)
                row = timed_calls(call, args.calls if "MiB" not in label else max(args.calls // 10, 20), _host_pid_of_worker(sandbox))
                print(f"{label:>40} {row['median_ms']:10.3f} {row['mean_ms']:9.3f} {row['trusted_cpu_ms']:15.3f} {row['worker_cpu_ms']:14.3f}")
            impl.begin_test("bench/roundtrip.py::calls", "strides", visible=True)
            gaps = after_busy_gaps(calls["small call (contiguous_strides)"], [0, 0.2, 1, 3], max(args.calls // 4, 50))
            print("\na small call after this process was busy for a while (ms, median):")
            print("  " + "   ".join(f"busy {gap:g} ms before: {ms:.3f}" for gap, ms in gaps.items()))
            request = {"op": "call", "module": "strides", "function": "contiguous_strides", "args": [(2, 3, 4)], "kwargs": {}}
            reply = {"ok": True, "value": (12, 4, 1), "flags": []}
            big = {"op": "call", "module": "tensors", "function": "dequantize_fp8", "args": [q, scale], "kwargs": {}}
            frame, big_frame = wire.encode(reply), wire.encode(big)
            head = 16
            print("\nthe trusted side's own share, per call (microseconds, in this process):")
            print(f"  encode a small request            {per_call(lambda: wire.encode(request)):8.1f}")
            print(f"  decode a small reply              {per_call(lambda: wire.decode(frame[head:], b'')):8.1f}")
            print(f"  encode a 1 MiB request            {per_call(lambda: wire.encode(big), 200):8.1f}")
            lengths = wire.HEADER.unpack_from(big_frame)
            print(f"  decode a 1 MiB reply              {per_call(lambda: wire.decode(big_frame[head:head + lengths[0]], memoryview(big_frame)[head + lengths[0]:]), 200):8.1f}")
            print(f"  the flag log (no flags)           {per_call(lambda: sandbox.flags.add_reported([], None, False)):8.1f}")
            if args.perf:
                impl.begin_test("bench/roundtrip.py::calls", "strides", visible=True)
                worker = _host_pid_of_worker(sandbox)  # its counters are read from /proc
                small = calls["small call (contiguous_strides)"]
                counts = syscalls_during([os.getpid(), worker], lambda: [small() for _ in range(args.calls)])
                print(f"\nsystem calls per small call: trusted side {counts[0] / args.calls:.1f} (all its threads), worker {counts[1] / args.calls:.1f}")
        finally:
            sandbox.close()


def _fresh_budget(sandbox: Sandbox) -> None:
    """The reply budget (bytes, elements per test and per submission) starts again: a thousand 1 MiB
    replies are over a submission's, and this measures a round trip, not the bound."""
    from grader.protocol import wire

    sandbox.budget = wire.Budget()


def _host_pid_of_worker(sandbox: Sandbox) -> int:
    """The running worker's pid as seen from here: the newest process under the zygote (the zygote
    forks once more to be pid 1 of its pid namespace; the worker is that one's child)."""
    sandbox.request({"op": "ping"}, None)  # a worker is running
    pids, found = [sandbox._zygote], []  # noqa: SLF001
    while pids:
        pid = pids.pop()
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
        found += children
        pids += children
    return found[-1]


if __name__ == "__main__":
    main()
