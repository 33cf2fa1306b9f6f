"""What driving student objects from the trusted side would cost (issue 17): a prototype.

    python bench/handles.py [--repeats N]

Two ways to run the optimizer trajectory scenario against the reference, both through the
real sandbox (one worker, no test framework):

- driver:   the scenario's driver runs in the worker (tests/drivers/optimizers.py:run_optimizer),
            one round trip per trajectory; its output is a claim, compared on the trusted side;
- handles:  the driver runs HERE; the worker only holds live objects behind handles and
            answers "make a Parameter", "construct optimizers.AdamW over these", "set .grad",
            "call step()", "read this tensor back" -- one round trip each (2n + 1 per step for
            n parameters), or one per step when a step's operations are sent as a batch.

The handle operations exist only in this prototype: they are patched into the worker's loop
(grader/worker/serve.py) before the sandbox forks its zygote. Not a test: timings depend on
the machine, so the load is printed with them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from grader.core.limits import Limits  # noqa: E402
from grader.core.sandbox import Sandbox  # noqa: E402
from grader.worker import serve  # noqa: E402
from tests.drivers import optimizers as driver  # noqa: E402
from seam import load_reference  # noqa: E402

# --- the worker's side of the prototype ------------------------------------------------------

_objects: dict[int, object] = {}
_plain_handle = serve._handle


def _resolve(value):
    if isinstance(value, dict) and set(value) == {"$h"}:
        return _objects[value["$h"]]
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def _keep(obj) -> dict:
    _objects[len(_objects)] = obj
    return {"$h": len(_objects) - 1}


def _handle_op(request: dict, impl):
    op = request["op"]
    if op == "h.parameter":
        return _keep(torch.nn.Parameter(request["tensor"].clone()))
    if op == "h.new":
        cls = getattr(getattr(impl, request["module"]), request["name"])
        return _keep(cls(_resolve(request["args"]), **request["kwargs"]))
    if op == "h.set":
        setattr(_objects[request["h"]], request["attr"], _resolve(request["value"]))
        return None
    if op == "h.call":
        getattr(_objects[request["h"]], request["method"])()
        return None
    if op == "h.read":
        return _objects[request["h"]].detach().clone()
    if op == "h.batch":
        return [_handle_op(r, impl) for r in request["ops"]]
    raise ValueError(op)


def _prototype_handle(request, impl, audit, scenarios):
    if not str(request.get("op", "")).startswith("h."):
        return _plain_handle(request, impl, audit, scenarios)
    try:
        return {"ok": True, "value": _handle_op(request, impl)}
    except BaseException as error:
        return {"ok": False, "error": serve._describe(error)}


# --- the trusted side's drivers -----------------------------------------------------------------


def in_worker(sandbox: Sandbox, name, params, grads, hyper) -> list:
    qualified = f"{driver.run_optimizer.__module__}:{driver.run_optimizer.__qualname__}"
    kwargs = dict(name=name, params=params, grads=grads, hyper=hyper)
    return sandbox.request({"op": "run", "driver": qualified, "kwargs": kwargs}, None)["trajectory"]


def by_handles(sandbox: Sandbox, name, params, grads, hyper, batched: bool) -> list:
    call = lambda message: sandbox.request(message, None)  # noqa: E731
    handles = [call({"op": "h.parameter", "tensor": p}) for p in params]
    optimizer = call({"op": "h.new", "module": "optimizers", "name": name, "args": handles, "kwargs": hyper})
    history = [[p.clone()] for p in params]
    for step_grads in grads:
        ops = [{"op": "h.set", "h": h["$h"], "attr": "grad", "value": g} for h, g in zip(handles, step_grads)]
        ops.append({"op": "h.call", "h": optimizer["$h"], "method": "step"})
        ops += [{"op": "h.read", "h": h["$h"]} for h in handles]
        values = call({"op": "h.batch", "ops": ops}) if batched else [call(op) for op in ops]
        for record, value in zip(history, values[-len(handles):]):
            record.append(value)
    return [torch.stack(record) for record in history]


def problem(num_params: int, steps: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5,), (2, 2)][:num_params]
    params = [torch.randn(s, generator=g) for s in shapes]
    grads = [[torch.randn(s, generator=g) for s in shapes] for _ in range(steps)]
    return params, grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    serve._handle = _prototype_handle  # before the fork: the zygote and its workers inherit it
    cases = {"public AdamW: 2 params x 100 steps": problem(2, 100), "hidden SGD: 3 params x 6 steps": problem(3, 6)}
    with tempfile.TemporaryDirectory() as scratch:
        submission = Path(scratch) / "reference"
        shutil.copytree(REPO_ROOT / "solutions", submission / "assignment", ignore=shutil.ignore_patterns("__pycache__"))
        sandbox = Sandbox(submission, Limits(call_seconds=60, submission_seconds=600), problems=["optimizers"])
        sandbox.start()
        reference = load_reference()  # after the fork: the zygote must not hold it
        try:
            sandbox.fresh_worker()
            sandbox.request({"op": "import", "module": "optimizers"}, None)
            print(f"load before: {os.getloadavg()[0]:.2f}")
            pings = []
            for _ in range(200):
                started = time.perf_counter()
                sandbox.request({"op": "ping"}, None)
                pings.append(time.perf_counter() - started)
            print(f"one round trip (ping), median of 200: {statistics.median(pings) * 1000:.3f} ms")
            for label, (params, grads) in cases.items():
                name = "AdamW" if "AdamW" in label else "SGD"
                want = in_worker(sandbox, name, params, grads, {})
                report(label, {
                    "driver, in-process (no sandbox)": lambda: driver.run_optimizer(reference, name, params, grads, {})["trajectory"],
                    "driver in the worker": lambda: in_worker(sandbox, name, params, grads, {}),
                    "handles, one op per trip": lambda: by_handles(sandbox, name, params, grads, {}, False),
                    "handles, one step per trip": lambda: by_handles(sandbox, name, params, grads, {}, True),
                }, want, args.repeats, trips={"driver, in-process (no sandbox)": 1, "driver in the worker": 1,
                                              "handles, one op per trip": len(params) + 1 + len(grads) * (2 * len(params) + 1),
                                              "handles, one step per trip": len(params) + 1 + len(grads)})
            print(f"load after: {os.getloadavg()[0]:.2f}")
        finally:
            sandbox.close()


def report(label: str, ways: dict, want: list, repeats: int, trips: dict) -> None:
    print(f"\n{label}")
    for way, run in ways.items():
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            got = run()
            seconds.append(time.perf_counter() - started)
            assert all(torch.equal(a, b) for a, b in zip(got, want)), way
        median = statistics.median(seconds)
        print(f"  {way:28s} {trips[way]:5d} round trips  {median * 1000:8.2f} ms per scenario  "
              f"{median / trips[way] * 1000:6.3f} ms per trip")


if __name__ == "__main__":
    main()
