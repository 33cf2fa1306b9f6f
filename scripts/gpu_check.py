"""The GPU half in one call: suites on CUDA, the sandbox's worker on the GPU, MFU against
torch, the CUDA-only mutant, overhead and throughput; a table last. Run by
scripts/gpu_check.sh (which installs the project first); see it for the options.

Every step is a child process with its own time limit, cut to what is left of the whole
run's budget, so the run ends inside the device machine's 10 minutes however a step
hangs. Full output goes to OUT/steps.log; the figures to OUT/figures.json and
OUT/gpu-results.md, the examples' results in OUT/grading.tar.gz (few files: the device tool returns at most 8).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from grader.core.suites import QUICKEST  # noqa: E402  (what the CPU dry run grades: the quickest problem, to prove the steps run)

SIZE = 8192  # the 8192^3
DRY_SIZE = 256
MUTANT = "flops_time_matmul_no_sync"
EXAMPLES = ("correct", "partial", "crashing", "cheating")
WORKER_COUNTS = "1,2,4,8,16"
# H200 SXM datasheet, dense: what measured_mfu is also reported against (the ratio to torch is the target).
H200_PEAK = {"bfloat16": 989.4e12, "float32": 66.9e12}
DEPENDENCIES = ("einops", "jaxtyping", "beartype", "numpy", "pytest", "hypothesis", "pytest-timeout", "rich", "wadler-lindig")


@dataclass
class Run:
    out: Path
    cpu: bool
    deadline: float
    scratch: Path
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # figure, value, target / note
    figures: dict = field(default_factory=dict)

    def row(self, figure: str, value: str, note: str = "") -> None:
        self.rows.append((figure, value, note))
        print(f"  {figure}: {value}  {note}", flush=True)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sh(self, step: str, command: list[str], limit: float, env: dict | None = None) -> tuple[int, str, float]:
        """Run one child with `limit` seconds (less if the budget is nearly spent); its exit, output, seconds."""
        limit = max(1.0, min(limit, self.left() - 5))
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=limit, env={**os.environ, **(env or {})})
            code, text = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as stopped:
            code = 124
            text = _text(stopped.stdout) + _text(stopped.stderr) + f"\n[stopped at its limit, {limit:.0f} s]"
        seconds = time.monotonic() - started
        with open(self.out / "steps.log", "a") as log:
            log.write(f"\n===== {step}: {' '.join(command)}\n===== exit {code}, {seconds:.1f} s\n{text}\n")
        return code, text, seconds


def _text(data) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


# --- steps -------------------------------------------------------------------------------------


def environment(run: Run) -> None:
    import torch

    from grader.core.machine import isolation_level

    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else "no CUDA device"
    run.figures.update(device=name, torch=torch.__version__, python=platform.python_version(), cores=os.cpu_count(), cuda=cuda)
    run.figures["sandbox_level"] = isolation_level()
    run.row("device", name, f"torch {torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores")
    run.row("sandbox level", run.figures["sandbox_level"], "root/userns: namespaces; none: weak (graded with --allow-weak-sandbox)")
    versions = {}
    from importlib import metadata

    for package in DEPENDENCIES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "MISSING"
    run.figures["packages"] = versions
    missing = [p for p, v in versions.items() if v == "MISSING"]
    run.row("dependencies", "all present" if not missing else f"MISSING {', '.join(missing)}", ", ".join(f"{p} {v}" for p, v in versions.items() if v != "MISSING"))
    if not run.cpu and not cuda:
        run.row("CUDA", "FAILED: torch sees no CUDA device", "every CUDA figure below is skipped")


def mfu(run: Run) -> None:
    """measured_mfu of the reference with torch's own rate (CUDA events) as the peak: their ratio."""
    cuda = run.figures["cuda"]
    size, device = (SIZE, "cuda") if cuda else (DRY_SIZE, "cpu")
    for dtype in ("bfloat16", "float32"):
        code, text, _ = run.sh(f"mfu {dtype}", [sys.executable, __file__, "--child", "mfu", str(size), device, dtype], 120)
        result = _last_json(text)
        if code or result is None:
            run.row(f"measured_mfu / torch, {dtype} {size}^3", "FAILED", f"exit {code}: see steps.log")
            continue
        run.figures[f"mfu_{dtype}"] = result
        if cuda:
            run.row(
                f"measured_mfu / torch.matmul, {dtype} {size}^3", f"{result['ratio']:.3f}",
                f"target >= 0.95; reference {result['reference_tflops']:.0f} TFLOP/s, torch {result['torch_tflops']:.0f} (CUDA events); "
                f"MFU vs datasheet {result['mfu_vs_datasheet']:.2f}",
            )
        else:
            run.row(f"measured_mfu / torch.matmul, {dtype}", "skipped: no CUDA", f"cpu dry run at {size}^3: ratio {result['ratio']:.2f} (perf_counter, not a figure)")


def child_mfu(size: int, device: str, dtype_name: str) -> dict:
    import torch

    from solutions import flops

    dtype = getattr(torch, dtype_name)
    torch_seconds = _torch_matmul_seconds(size, dtype, device)
    torch_rate = flops.matmul_flops(size, size, size) / torch_seconds
    ratio = flops.measured_mfu(size, size, size, dtype, device, peak_flops_per_sec=torch_rate)
    reference_rate = ratio * torch_rate
    peak = H200_PEAK[dtype_name] if device == "cuda" else float("nan")
    return {
        "ratio": ratio, "reference_tflops": reference_rate / 1e12, "torch_tflops": torch_rate / 1e12,
        "mfu_vs_datasheet": flops.measured_mfu(size, size, size, dtype, device, peak) if device == "cuda" else None,
    }


def _torch_matmul_seconds(size: int, dtype, device: str, repeats: int = 10) -> float:
    """Median seconds of torch.matmul, timed with CUDA events on CUDA (perf_counter on CPU)."""
    import torch

    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    for _ in range(3):
        torch.matmul(a, b)
    times = []
    for _ in range(repeats):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            torch.matmul(a, b)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            started = time.perf_counter()
            torch.matmul(a, b)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def mutant(run: Run) -> None:
    """The hidden suite must catch time_matmul without synchronisation, on CUDA."""
    code, text, seconds = run.sh("mutant", [sys.executable, __file__, "--child", "mutant", MUTANT], 180)
    result = _last_json(text)
    if code or result is None:
        run.row(f"mutant {MUTANT}", "FAILED", f"exit {code}: see steps.log")
        return
    run.figures["mutant"] = result
    lost = ", ".join(f"{k} {v:g}" for k, v in result["lost"].items()) or "none"
    if run.figures["cuda"]:
        run.row(f"mutant {MUTANT} on CUDA", result["status"], f"must be caught; points lost: {lost}; {seconds:.0f} s")
    else:
        expected = "as expected without CUDA" if result["status"] == "NOT caught" else "UNEXPECTED without CUDA"
        run.row(f"mutant {MUTANT}", "skipped: no CUDA", f"cpu dry run: {result['status']} ({expected}), lost {lost}")


def child_mutant(name: str) -> dict:
    from dataclasses import asdict

    from grader.core import variants
    from grader.staff.qa import validate

    found = [m for m in variants.load_mutants() if m.name == name]
    if not found:
        raise SystemExit(f"no mutant {name}")
    return asdict(validate.check_mutant(found[0], cuda=True))  # on CPU it runs anyway: the dry run


def suites(run: Run) -> None:
    """The public and hidden suites on the reference (the `device` fixture adds the cuda cases)."""
    from grader.core.suites import suite_paths

    only = [QUICKEST] if run.cpu else None
    for suite in ("public", "hidden"):
        paths = [p for p in suite_paths(only) if p.startswith(f"tests/{suite}")]
        report = run.scratch / f"{suite}.xml"
        command = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", "-rfs", f"--junitxml={report}", "-o", "junit_family=xunit1"]
        if suite == "hidden":
            command.append("--hypothesis-profile=grading")
        code, _, seconds = run.sh(f"suite {suite}", command, 240)
        cases = _junit_cases(report)
        counts = {o: sum(1 for v in cases.values() if v == o) for o in ("passed", "failed", "skipped")}
        on_cuda = {o: sum(1 for k, v in cases.items() if _is_cuda_case(k) and v == o) for o in ("passed", "failed", "skipped")}
        run.figures[f"suite_{suite}"] = {"exit": code, "seconds": seconds, **counts, "cuda": on_cuda}
        scope = "" if only is None else f" ({', '.join(only)} only)"
        verdict = "ok" if code == 0 and counts["failed"] == 0 and counts["passed"] else "FAILED"
        run.row(
            f"{suite} suite on the reference{scope}", f"{verdict}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped",
            f"{seconds:.1f} s wall; cuda cases {on_cuda['passed']} passed, {on_cuda['failed']} failed, {on_cuda['skipped']} skipped",
        )
        if suite == "hidden":
            run.row("hidden suite wall time on the reference" + scope, f"{seconds:.1f} s", "on " + run.figures["device"])
    placement(run)


def placement(run: Run) -> None:
    """The cuda cases of the tests that check where tensors live (outputs, optimizer state, batches)."""
    keys = _placement_tests()
    cases = {**_junit_cases(run.scratch / "public.xml"), **_junit_cases(run.scratch / "hidden.xml")}
    chosen = {k: v for k, v in cases.items() if _is_cuda_case(k) and k.split("[")[0] in keys}
    passed = sum(1 for v in chosen.values() if v == "passed")
    tests = sorted({k.split("[")[0].split("::")[-1] for k in chosen})
    run.figures["placement"] = {"cases": len(chosen), "passed": passed, "tests": tests}
    if not run.figures["cuda"]:
        names = sorted(k.split("::")[-1] for k in keys)
        run.row("device placement on cuda", "skipped: no CUDA", f"{len(names)} placement tests found ({', '.join(names[:3])}, ...)")
        return
    verdict = "ok" if chosen and passed == len(chosen) else "FAILED"
    run.row("device placement on cuda", f"{verdict}: {passed}/{len(chosen)} cases", ", ".join(tests))


def _placement_tests() -> set[str]:
    """Test functions whose body looks at a tensor's device: `.device.type`, `devices`, `state_devices`."""
    pattern = re.compile(r"\.device\.type|\bdevices\b|state_devices|_assert_skips_none_grads")
    keys = set()
    for path in sorted([*(REPO_ROOT / "tests" / "public").glob("test_*.py"), *(REPO_ROOT / "tests" / "hidden").glob("test_*.py")]):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and pattern.search(ast.get_source_segment(text, node) or ""):
                keys.add(f"{path.relative_to(REPO_ROOT).as_posix()}::{node.name}")
    return keys


def _is_cuda_case(key: str) -> bool:
    return bool(re.search(r"[\[-]cuda[\]-]", key))


def _junit_cases(report: Path) -> dict[str, str]:
    """{tests/path.py::name[params]: passed | failed | skipped} from a junit xml (xunit1)."""
    if not report.exists():
        return {}
    cases = {}
    for case in ElementTree.parse(report).iter("testcase"):
        key = f"{case.get('file')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            cases[key] = "failed"
        else:
            cases[key] = "skipped" if case.find("skipped") is not None else "passed"
    return cases


def grade_examples(run: Run) -> None:
    """The bundled examples through the sandbox, workers on the GPU: the correct one must score all."""
    names = ("correct",) if run.cpu else EXAMPLES
    out = run.scratch / "grading"
    command = [sys.executable, "-m", "grader", "grade", *(str(REPO_ROOT / "examples" / "submissions" / n) for n in names), "--out", str(out), "--jobs", str(min(len(names), os.cpu_count() or 1))]
    # The dry run grades one correct submission on one problem, without the canary (the reference
    # through the sandbox on that same problem): it would prove nothing more here.
    command += ["--only", QUICKEST, "--skip-canary"] if run.cpu else []
    command += ["--call-timeout", "8", "--test-timeout", "30", *_weak(run)]  # the crashing example's hangs cost seconds
    code, _, seconds = run.sh("grade examples", command, 300)
    if out.exists():  # every results.json and the gradebook, as one file (the device tool returns few)
        with tarfile.open(run.out / "grading.tar.gz", "w:gz") as archive:
            archive.add(out, arcname="grading")
    scores = {}
    for name in names:
        path = out / name / "results.json"
        if not path.exists():
            scores[name] = "no results"
            continue
        data = json.loads(path.read_text())
        extra = data.get("extra_data", {})
        scores[name] = f"{data['score']:g}/{data['max_score']:g}" + (" cuda" if extra.get("cuda") else " no-cuda") + f" flags {len(extra.get('integrity_flags', []))}"
    run.figures["examples"] = {"exit": code, "seconds": seconds, "scores": scores}
    correct = scores.get("correct", "")
    full = bool(re.match(r"(\S+)/\1 ", correct))
    on_gpu = "cuda" in correct.split()[1:2] or run.cpu
    verdict = "ok" if code == 0 and full and on_gpu else "FAILED"
    scope = f" ({QUICKEST} only)" if run.cpu else ""
    run.row(f"examples graded in the sandbox{scope}", f"{verdict}: " + "; ".join(f"{n} {s}" for n, s in scores.items()), f"{seconds:.0f} s; the correct one must score all, with cuda on a GPU")


def _weak(run: Run) -> list[str]:
    return ["--allow-weak-sandbox"] if run.figures.get("sandbox_level") == "none" else []


def isolation(run: Run) -> None:
    """Sandboxed vs in-process, one repeat (bench/isolation.py, with its phase table in the log)."""
    command = [sys.executable, "bench/isolation.py", "--repeats", "1", "--profile", *(["--only", QUICKEST] if run.cpu else []), *_weak(run)]
    code, text, _ = run.sh("isolation", command, 200)
    found = re.search(r"in-process.*?:\s+([\d.]+) s.*\n.*sandboxed.*?:\s+([\d.]+) s.*\n.*ratio.*?:\s+([\d.]+)", text)
    if code or not found:
        run.row("sandboxed / in-process", "FAILED", f"exit {code}: see steps.log")
        return
    plain, boxed, ratio = map(float, found.groups())
    run.figures["isolation"] = {"in_process": plain, "sandboxed": boxed, "ratio": ratio}
    scope = f" ({QUICKEST} only)" if run.cpu else ""
    run.row(f"sandboxed / in-process{scope}", f"{ratio:.3f}", f"in-process {plain:.1f} s, sandboxed {boxed:.1f} s (one repeat)")


def throughput(run: Run) -> None:
    """Submissions per minute against local workers (copies of the reference, tensors; the dry run's one problem on CPU)."""
    n, workers, problem = ("2", "2", QUICKEST) if run.cpu else ("16", WORKER_COUNTS, "tensors")
    command = [sys.executable, "bench/throughput.py", "--n", n, "--workers", workers, "--only", problem, *_weak(run)]
    code, text, _ = run.sh("throughput", command, 300)
    found = re.findall(r"local x(\d+): +([\d.]+) submissions/minute \( *([\d.]+) s\), x([\d.]+)", text)
    run.figures["throughput"] = [{"workers": int(w), "per_minute": float(r), "seconds": float(s), "speedup": float(x)} for w, r, s, x in found]
    if not found:
        run.row("throughput", "FAILED", f"exit {code}: see steps.log")
    for w, rate, seconds, speedup in found:
        run.row(f"throughput, {w} local worker(s)", f"{float(rate):.1f} submissions/min", f"x{speedup} vs 1 ({n} submissions, {problem}, {seconds} s)")
    if code:
        run.row("throughput", f"incomplete (exit {code})", "see steps.log")


STEPS = (environment, mfu, mutant, suites, grade_examples, isolation, throughput)


# --- output ------------------------------------------------------------------------------------


def markdown(run: Run) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = "CPU dry run (not figures)" if run.cpu else "GPU run"
    lines = [
        f"## {date}: {run.figures.get('device', '?')}, {mode}", "",
        f"torch {run.figures.get('torch', '?')}, Python {run.figures.get('python', '?')}, {run.figures.get('cores', '?')} cores, "
        f"sandbox level {run.figures.get('sandbox_level', '?')}; `scripts/gpu_check.sh{' --cpu' if run.cpu else ''}`", "",
        "| figure | value | target / note |", "|---|---|---|",
    ]
    lines += [f"| {f} | {v} | {n.replace('|', '/')} |" for f, v, n in run.rows]
    return "\n".join(lines) + "\n"


def write_results(text: str) -> Path:
    """Prepend this run's section to bench/gpu-results.md (newest first)."""
    target = REPO_ROOT / "bench" / "gpu-results.md"
    header = "# GPU results\n\nWritten by `scripts/gpu_check.sh --write-results`, newest first.\n\n"
    old = target.read_text().removeprefix(header) if target.exists() else ""
    target.write_text(header + text + ("\n" + old if old else ""))
    return target


def _last_json(text: str):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="the GPU half of the kit's checks, in one call (see scripts/gpu_check.sh)")
    parser.add_argument("--cpu", action="store_true", help="dry run without CUDA: tiny sizes, one problem, 1-2 workers")
    parser.add_argument("--budget", type=float, default=540, help="seconds for the whole run (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or REPO_ROOT / "gpu-out"))
    parser.add_argument("--write-results", action="store_true", help="also prepend the table to bench/gpu-results.md")
    parser.add_argument("--add-results", type=Path, metavar="FILE", help="only prepend FILE (a run's OUT/gpu-results.md, brought back) to bench/gpu-results.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.add_results:
        print(f"wrote {write_results(args.add_results.read_text())}")
        return 0
    if args.child:
        kind, *rest = args.child
        result = child_mfu(int(rest[0]), rest[1], rest[2]) if kind == "mfu" else child_mutant(rest[0])
        print(json.dumps(result))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "steps.log").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        run = Run(args.out, args.cpu, time.monotonic() + args.budget, Path(scratch))
        for step in STEPS:
            print(f"[{step.__name__}] {run.left():.0f} s left", flush=True)
            if run.left() < 15:
                run.row(step.__name__, "skipped: out of time budget", f"--budget {args.budget:g}")
                continue
            try:
                step(run)
            except Exception as error:  # one broken step must not cost the others' figures
                run.row(step.__name__, "FAILED", f"{type(error).__name__}: {error}"[:300])
    text = markdown(run)
    (args.out / "gpu-results.md").write_text(text)
    (args.out / "figures.json").write_text(json.dumps(run.figures, indent=2, default=str))
    if args.write_results:
        print(f"wrote {write_results(text)}")
    print("\n" + text)
    failed = [f for f, v, _ in run.rows if v.startswith("FAILED") or "FAILED" in v.split(":")[0]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
