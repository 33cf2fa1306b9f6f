"""Trusted side: tampering read off the staged source, where the student's code cannot reach.

Whatever watches student code from inside the worker (the einsum recorder's torch function
mode, time_matmul's clock and FLOP counting, get_batch's bytes-copied monitor, the fp8
jaxtyping checker, the audit hook) can be switched off by that code, which runs first in the
same process. So each has a counterpart here, in the grading process, reading the text with
`ast` before any of it runs: the ways to reach into the grader or switch a monitor off are
themselves evidence, flagged `tamper` with the rule, the file and the line.

    monitor in the worker                          its static counterpart here
    einsum-only recorder (TorchFunctionMode)       mode-switch (DisableTorchFunction, _pop_mode, ...); the
                                                   einsum rule itself read off the text (seam/own_work.py)
    time_matmul's clock reads and FLOP counter     trace-hook (sys.setprofile/settrace), patching (time.*),
                                                   mode-switch (dispatch modes)
    get_batch's bytes-copied monitor               trace-hook (tracemalloc), mode-switch, raw-memory
    the fp8 jaxtyping/beartype checker             patching (jaxtyping.*, beartype.*), checker-off
    the audit hook (imports, files, sockets,       reach-grader (imports of tests/grader/solutions, sys.modules,
    processes, patched builtins)                   loading by path), grader-path, process, network, patching,
                                                   and gc-walk / frame-access (how a hook is found and removed)

Precision before recall: honest assignment code has no use for any of these (the kit's
reference, examples, alternatives, similarity students and mutants raise none; a project test
keeps it so), while a determined cheat that avoids every one of them must compute the answer,
and then the own-work rules decide whether that work was the student's.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator, Mapping

from seam.source_index import BUILTINS, PACKAGE, Module, parse

FORBIDDEN_PACKAGES = ("solutions", "tests", "seam", "grader")


@dataclass(frozen=True)
class Finding:
    rule: str
    module: str  # the file's stem: assignment/<module>.py
    line: int
    what: str

    def detail(self) -> str:
        return f"assignment/{self.module}.py line {self.line}: {self.rule}: {self.what}"


RULES = {
    "gc-walk": "walks the interpreter's objects with gc (how code finds the grader's functions to replace)",
    "frame-access": "reads stack frames (another function's variables and globals)",
    "raw-memory": "reaches raw memory (ctypes, cffi, mmap)",
    "reach-grader": "imports or looks up the grader, the tests or the reference, or loads code by path",
    "grader-path": "names a path of the grader's (/proc, /autograder, solutions/, tests/hidden)",
    "mode-switch": "switches PyTorch's function or dispatch modes off (the monitors that record what code runs)",
    "trace-hook": "installs or removes interpreter hooks (settrace, setprofile, audit hooks, tracemalloc)",
    "checker-off": "switches the jaxtyping/beartype checker off",
    "patching": "replaces an attribute of a module, a class it did not write, or a function's code",
    "dynamic-code": "runs code built at run time (eval, exec, compile, code objects)",
    "computed-lookup": "looks up a module's attribute by a computed name (getattr, setattr, delattr, __import__)",
    "process": "starts processes or sends signals",
    "network": "opens network connections",
}

GC_WALKS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents"}
FRAME_NAMES = {"sys._getframe", "sys._current_frames", "inspect.currentframe", "inspect.stack", "inspect.trace",
               "inspect.getouterframes", "inspect.getinnerframes", "traceback.walk_stack", "traceback.walk_tb"}
# A frame's or a function's view of other code's variables.
FRAME_ATTRIBUTES = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
                    "__globals__", "__closure__", "__builtins__"}
RAW_MEMORY_MODULES = ("ctypes", "_ctypes", "cffi", "mmap")
LOADERS = ("importlib.util.", "importlib.machinery.", "importlib.reload", "importlib.abc.", "runpy.", "pkgutil.", "zipimport.", "imp.")
MODE_SWITCHES = {
    "DisableTorchFunction", "DisableTorchFunctionSubclass", "_DisableTorchDispatch", "_DisableFuncTorch", "_DisablePythonDispatcher",
    "_pop_mode", "_push_mode", "_pop_mode_temporarily", "_pop_torch_function_stack", "_push_on_torch_function_stack",
    "_pop_torch_dispatch_stack", "_push_on_torch_dispatch_stack", "_set_torch_function_mode", "_set_dispatch_mode",
    "_unset_dispatch_mode", "_disable_current_modes", "_get_current_dispatch_mode", "_get_current_dispatch_mode_stack",
    "_get_function_stack_at", "_get_dispatch_stack_at", "_len_torch_function_stack", "_len_torch_dispatch_stack",
    "_is_torch_function_mode_enabled", "_disabled_torch_function_impl", "_ExcludeDispatchKeyGuard", "_IncludeDispatchKeyGuard",
    "_ForceDispatchKeyGuard", "_RestorePythonTLSSnapshot", "_DisableAutocast",
}
MODE_INTERNALS = ("torch.overrides._", "torch.utils._python_dispatch._", "torch._C._dispatch_tls_", "torch._C._set_")
TRACE_HOOKS = ("sys.settrace", "sys.setprofile", "sys.addaudithook", "sys.monitoring.", "threading.settrace", "threading.setprofile",
               "threading.settrace_all_threads", "threading.setprofile_all_threads", "tracemalloc.", "faulthandler.", "_testcapi.")
CHECKER_OFF = ("jaxtyping.config.", "jaxtyping._config.", "beartype.roar.", "beartype.claw.")
CHECKER_STRINGS = ("JAXTYPING_DISABLE", "jaxtyping_disable", "BEARTYPE_IS_", "PYTHONOPTIMIZE")
DYNAMIC_CODE = {"eval", "exec", "compile", "__import__"}
CODE_MODULES = ("code.", "codeop.", "marshal.", "dill.", "cloudpickle.")
CODE_MAKERS = {"types.FunctionType", "types.CodeType", "types.LambdaType", "pickle.loads", "pickle.load"}  # called
# Rebinding these changes what a function or class is, whoever owns it.
REBOUND = ("__code__", "__globals__", "__class__", "__bases__", "__dict__", "__defaults__", "__kwdefaults__", "__call__")
PROCESS = ("os.system", "os.popen", "os.fork", "os.forkpty", "os.exec", "os.spawn", "os.posix_spawn", "os.kill", "os.killpg",
           "os.setuid", "os.setgid", "os.chroot", "os.unshare", "os.setns", "os.pidfd_open", "os.register_at_fork", "subprocess.",
           "multiprocessing.", "pty.", "signal.pthread_kill", "shutil.rmtree", "asyncio.create_subprocess")
NETWORK = ("socket.", "ssl.", "urllib.request.", "http.client.", "requests.", "httpx.", "aiohttp.", "ftplib.", "smtplib.", "xmlrpc.")
GRADER_PATHS = ("/proc/", "/autograder", "solutions/", "tests/hidden", "tests/drivers", "tests/oracles", "grader/worker", "grader/core",
                "results.json")
# Settings honest code changes on modules: not a patch of anything a monitor or comparison uses.
SETTINGS = ("torch.backends.", "torch._dynamo.config.", "torch._inductor.config.", "sys.stdout", "sys.stderr", "sys.stdin",
            "numpy.random.", "warnings.filters", "logging.")


def findings(sources: Mapping[str, str], package: str = PACKAGE) -> list[Finding]:
    """Every tamper finding in a submission's modules (assignment/*.py), file by file, line by line."""
    found: list[Finding] = []
    for name in sorted(sources):
        tree = parse(sources[name])
        if tree is not None:
            module = Module(name, tree, package)
            found += sorted(set(_scan(module, package)), key=lambda f: (f.line, f.rule, f.what))
    return found


def problems_held(found: list[Finding], sources: Mapping[str, str], problems: tuple[str, ...], package: str = PACKAGE) -> dict[str, list[Finding]]:
    """problem -> the findings in its module or in a helper module it imports (a finding in
    assignment/utils.py counts for every problem whose module imports utils)."""
    importers = _importers(sources, problems, package)
    held: dict[str, list[Finding]] = {}
    for finding in found:
        for problem in importers.get(finding.module, ()):
            held.setdefault(problem, []).append(finding)
    return held


def _importers(sources: Mapping[str, str], problems: tuple[str, ...], package: str) -> dict[str, set[str]]:
    """module -> the problems whose module is it or imports it (directly or through others)."""
    imports: dict[str, set[str]] = {}
    for name, text in sources.items():
        tree = parse(text)
        targets = Module(name, tree, package).imports.values() if tree is not None else ()
        imports[name] = {t.split(".")[1] for t in targets if t.startswith(package + ".")}
    result: dict[str, set[str]] = {}
    for problem in problems:
        seen, todo = set(), [problem]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo += imports.get(current, set())
        for module in seen:
            result.setdefault(module, set()).add(problem)
    return result


def _scan(module: Module, package: str) -> Iterator[Finding]:
    docstrings = _docstrings(module.tree)
    for node in ast.walk(module.tree):
        line = getattr(node, "lineno", 0)

        def finding(rule: str, what: str) -> Finding:
            return Finding(rule, module.name, line, what)

        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from _imports(module, node, finding)
        elif isinstance(node, ast.Attribute):
            yield from _attribute(module, node, finding)
        elif isinstance(node, ast.Name):
            yield from _name(module, node, finding)
        elif isinstance(node, ast.Call):
            yield from _call(module, node, finding, package)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            yield from _stores(module, node, finding, package)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield from _string(node.value, finding)


def _imports(module: Module, node: ast.Import | ast.ImportFrom, finding) -> Iterator[Finding]:
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if not node.level else []
    if isinstance(node, ast.ImportFrom) and not node.level:  # from torch._C import DisableTorchFunction
        for alias in node.names:
            if node.module.split(".")[0] not in FORBIDDEN_PACKAGES:
                yield from _dotted(f"{node.module}.{alias.name}", finding)
    for name in names:
        top = name.split(".")[0]
        if top in FORBIDDEN_PACKAGES:
            yield finding("reach-grader", f"import {name}")
        elif top in RAW_MEMORY_MODULES:
            yield finding("raw-memory", f"import {name}")
        elif top in ("socket", "ssl", "requests", "httpx", "aiohttp") or name in ("urllib.request", "http.client"):
            yield finding("network", f"import {name}")
        elif top in ("subprocess", "multiprocessing", "pty"):
            yield finding("process", f"import {name}")
        elif top in ("tracemalloc", "faulthandler", "_testcapi"):
            yield finding("trace-hook", f"import {name}")


def _attribute(module: Module, node: ast.Attribute, finding) -> Iterator[Finding]:
    dotted = module.resolve(node)
    if dotted is None and node.attr in MODE_SWITCHES:  # on something not imported by name: x._C.DisableTorchFunction
        yield finding("mode-switch", f".{node.attr}")
    if node.attr in FRAME_ATTRIBUTES:
        yield finding("frame-access", f".{node.attr}")
    if node.attr == "__subclasses__":  # every class in the process, the grader's among them
        yield finding("reach-grader", ".__subclasses__()")
    if node.attr == "__dict__" and _foreign(module, node.value, PACKAGE) is not None:
        yield finding("patching", f"{dotted}")
    if dotted is not None:
        yield from _dotted(dotted, finding)


def _dotted(dotted: str, finding) -> Iterator[Finding]:
    """The rule a dotted name (an attribute chain, a name or an import resolved) breaks, if any."""
    last = dotted.rsplit(".", 1)[-1]
    if dotted in GC_WALKS:
        yield finding("gc-walk", dotted)
    elif dotted in FRAME_NAMES:
        yield finding("frame-access", dotted)
    elif last in MODE_SWITCHES or dotted.startswith(MODE_INTERNALS):
        yield finding("mode-switch", dotted)
    elif dotted == "sys.modules" or dotted.split(".")[0] in FORBIDDEN_PACKAGES:
        yield finding("reach-grader", dotted)
    elif dotted.startswith(LOADERS) or dotted in ("importlib.import_module", "builtins.__import__"):
        yield finding("reach-grader", dotted)
    elif dotted.startswith(TRACE_HOOKS):
        yield finding("trace-hook", dotted)
    elif dotted.startswith(CHECKER_OFF):
        yield finding("checker-off", dotted)
    elif dotted.startswith(CODE_MODULES) or dotted in ("builtins.eval", "builtins.exec", "builtins.compile"):
        yield finding("dynamic-code", dotted)
    elif dotted.startswith(PROCESS):
        yield finding("process", dotted)
    elif dotted.startswith(NETWORK):
        yield finding("network", dotted)


def _name(module: Module, node: ast.Name, finding) -> Iterator[Finding]:
    if node.id == "__builtins__":
        yield finding("patching", "__builtins__")
    if node.id in module.imports and "." in module.imports[node.id]:  # `import sys` alone is no finding
        yield from _dotted(module.imports[node.id], finding)


def _call(module: Module, node: ast.Call, finding, package: str) -> Iterator[Finding]:
    func = node.func
    builtin = isinstance(func, ast.Name) and func.id in BUILTINS and func.id not in module.definitions and func.id not in module.imports
    if builtin and func.id in DYNAMIC_CODE:
        if func.id == "__import__" and node.args and _literal(node.args[0]) and not _literal(node.args[0]).split(".")[0] in FORBIDDEN_PACKAGES:
            return
        yield finding("dynamic-code" if func.id != "__import__" else "computed-lookup", f"{func.id}()")
    elif builtin and func.id in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
        target = _foreign(module, node.args[0], package)
        if func.id in ("setattr", "delattr") and target is not None:
            yield finding("patching", f"{func.id}({target}, ...)")
        elif target is not None and _literal(node.args[1]) is None:
            yield finding("computed-lookup", f"{func.id}({target}, <computed>)")
    elif builtin and func.id == "vars" and node.args and _foreign(module, node.args[0], package) is not None:
        yield finding("computed-lookup", f"vars({_foreign(module, node.args[0], package)})")
    if (isinstance(func, ast.Attribute) and func.attr in ("update", "setdefault", "__setitem__", "pop", "clear")
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) and func.value.func.id in ("globals", "vars")):
        yield finding("patching", f"{func.value.func.id}().{func.attr}()")
    dotted = module.resolve(func)
    if dotted in CODE_MAKERS or (dotted is None and isinstance(func, ast.Attribute) and func.attr == "replace"
                                 and isinstance(func.value, ast.Attribute) and func.value.attr == "__code__"):
        yield finding("dynamic-code", f"{dotted or '.__code__.replace'}()")
    if dotted == "importlib.import_module" and node.args:
        name = _literal(node.args[0])
        if name is None or name.split(".")[0] in FORBIDDEN_PACKAGES:
            yield finding("reach-grader", f"importlib.import_module({name or '<computed>'})")


def _stores(module: Module, node, finding, package: str) -> Iterator[Finding]:
    targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
    for target in targets:
        for element in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
            if isinstance(element, ast.Attribute):
                owner = _foreign(module, element.value, package)
                if owner is not None and not f"{owner}.{element.attr}".startswith(SETTINGS):
                    yield finding("patching", f"{owner}.{element.attr} = ...")
                elif element.attr in REBOUND:
                    yield finding("patching", f".{element.attr} = ...")
            elif isinstance(element, ast.Subscript):
                owner = _foreign(module, element.value, package)
                if owner == "sys.modules" or (isinstance(element.value, ast.Call) and isinstance(element.value.func, ast.Name) and element.value.func.id in ("globals", "vars")):
                    yield finding("patching", "a module's namespace")
                elif owner and owner.endswith("environ") and _literal(element.slice) and _literal(element.slice).startswith(CHECKER_STRINGS):
                    yield finding("checker-off", f"{owner}[{_literal(element.slice)}]")


def _string(value: str, finding) -> Iterator[Finding]:
    if value.startswith(CHECKER_STRINGS):
        yield finding("checker-off", repr(value[:60]))
    elif any(path in value for path in GRADER_PATHS) and len(value) < 400:
        yield finding("grader-path", repr(value[:60]))


def _foreign(module: Module, node: ast.AST, package: str) -> str | None:
    """The dotted name of `node` when it is something imported from outside the submission
    (a module, or a class or function of one): what a patch of it would change."""
    dotted = module.resolve(node)
    if dotted is None or dotted.split(".")[0] in (package, "__future__"):
        return None
    return dotted


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants (text about the code, not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found
