"""A submission's source, read with `ast` (never run): what each function uses, helpers followed.

The own-work rules (seam/own_work.py) and the grader's tamper rules (grader/core/source_rules.py)
both ask the same question of the text: what does this function, and everything of the
submission's it reaches, name? Names are resolved through the module's imports
(`import torch as t; t.finfo` is `torch.finfo`, `from .model import Cruncher` is
`assignment.model.Cruncher`), and a name the submission defines itself (a helper, a table, a
base class, a rebinding `machine_epsilon = _other`) is followed into its definition, in the same
module or in another module of the submission.
"""

from __future__ import annotations

import ast
import builtins
import functools
from dataclasses import dataclass
from typing import Iterator, Mapping

PACKAGE = "assignment"
BUILTINS = frozenset(dir(builtins))
MAX_SOURCE_CHARS = 2_000_000  # the intake allows 8 MiB a file; no honest module is near this


@dataclass(frozen=True)
class Use:
    """One thing a function names: `kind` is name, attribute, method, keyword, string, operator,
    index, define or builtin; `text` what (a dotted name, an attribute, ...)."""

    kind: str
    text: str
    module: str  # the submission's module whose text holds it
    line: int
    via: str  # the definition it sits in (the function itself or a helper it reaches)


def parse(text: str) -> ast.Module | None:
    """The module's tree, or None for text Python cannot parse (it fails to import anyway)."""
    if len(text) > MAX_SOURCE_CHARS:
        return None
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


class Module:
    """One module's imports and top-level definitions (through module-level if/try/with/for)."""

    def __init__(self, name: str, tree: ast.Module, package: str = PACKAGE):
        self.name, self.tree, self.package = name, tree, package
        self.imports: dict[str, str] = {}  # local name -> dotted name
        self.star_imports: list[str] = []
        self.definitions: dict[str, list[ast.AST]] = {}
        self.rebinds: list[ast.AST] = []  # values stored where no name says which function they replace
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._import(node)
            else:
                self.rebinds += _rebound_values(node)
        self._collect(tree.body)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    self.imports[root] = root
            return
        base = node.module or ""
        if node.level:  # relative: inside the package
            base = f"{self.package}.{base}" if base else self.package
        for alias in node.names:
            if alias.name == "*":
                self.star_imports.append(base)
            else:
                self.imports[alias.asname or alias.name] = f"{base}.{alias.name}"

    def _collect(self, body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.definitions.setdefault(node.name, []).append(node)
                continue
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    self._bind(target, node.value)
            for block in _blocks(node):
                self._collect(block)

    def _bind(self, target: ast.AST, value: ast.AST) -> None:
        """`name = value`, `name[k] = value`, `name.attr = value` (a rebinding, a table entry, a patch
        of the submission's own function): the value joins what `name` reaches. Patching an import
        (`torch.allclose = ...`) is the tamper rules' business, not a definition."""
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._bind(element, value)
            return
        root = target
        while isinstance(root, (ast.Attribute, ast.Subscript, ast.Starred)):
            root = root.value
        if isinstance(root, ast.Name) and (root is target or root.id not in self.imports):
            self.definitions.setdefault(root.id, []).append(value)

    def resolve(self, node: ast.AST) -> str | None:
        """`t.finfo` -> "torch.finfo" when `t` is an import; None when the root is not one."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.imports:
            return None
        return ".".join([self.imports[node.id], *reversed(parts)])


@functools.lru_cache(maxsize=128)
def _module(name: str, text: str, package: str) -> Module | None:
    """One module's index, shared by every submission that holds the same text: the hints build
    dozens of mutants of the reference, each a whole submission that differs in one module."""
    tree = parse(text)
    return None if tree is None else Module(name, tree, package)


# What one definition names, shared between submissions (_direct): keyed by its module's text and
# by every name the submission defines (what `_own` asks). Bounded: a long-lived process forgets.
_SHARED_DIRECT: dict[tuple, tuple[list[Use], list[tuple[str, str]]]] = {}
MAX_SHARED_DIRECT = 50_000


class Submission:
    """Every module of a submission, parsed once; `uses(module, name)` walks one definition's reach."""

    def __init__(self, sources: Mapping[str, str], package: str = PACKAGE):
        self.package = package
        self.modules: dict[str, Module] = {}
        self._texts: dict[str, str] = {}
        for name, text in sources.items():
            module = _module(name, text, package)
            if module is not None:
                self.modules[name], self._texts[name] = module, text
        # All `_direct` depends on beyond its own module's text: which names the submission defines.
        self._defined = frozenset((name, what) for name, module in self.modules.items() for what in module.definitions)

    def defines(self, module: str, name: str) -> bool:
        return module in self.modules and name in self.modules[module].definitions

    def uses(self, module: str, name: str) -> Iterator[Use]:
        """What `module.name` names, with every submission definition it reaches followed once."""
        seen: set[tuple[str, str]] = set()
        todo = [(module, name)]
        while todo:
            current = todo.pop()
            if current in seen or not (self.defines(*current) or current[1] == ""):
                continue
            seen.add(current)
            uses, reached = self._direct(*current)
            yield from uses
            todo += reached
            todo.append((current[0], ""))  # the module's code transplants, once per module

    def module_uses(self, module: str) -> Iterator[Use]:
        """What any code of `module` names: its module-level statements and every definition in it."""
        if module not in self.modules:
            return
        key = (self.package, module, self._texts[module], None, self._defined)
        if key not in _SHARED_DIRECT:
            source = self.modules[module]
            found = [use for use, _ in self._uses_in(source, source.tree, f"{module}.py's module code") if use is not None]
            self._share(key, (found, []))
        yield from _SHARED_DIRECT[key][0]

    def _direct(self, where: str, what: str) -> tuple[list[Use], list[tuple[str, str]]]:
        """What one definition names itself, and the definitions it reaches (cached: many
        ruled functions share helpers). `what` "" stands for the module's code transplants: a
        `f.__code__ = g.__code__` on a function found with gc, a write into globals(), may land
        on any function of its module, so what it stores counts for each."""
        key = (self.package, where, self._texts[where], what, self._defined)
        if key not in _SHARED_DIRECT:
            source = self.modules[where]
            definitions = [(value, "a rebinding") for value in source.rebinds] if what == "" else [(d, what) for d in source.definitions[what]]
            uses, reached = [], []
            for definition, via in definitions:
                for use, reaches in self._uses_in(source, definition, via):
                    if use is not None:
                        uses.append(use)
                    if reaches is not None:
                        reached.append(reaches)
            self._share(key, (uses, reached))
        return _SHARED_DIRECT[key]

    @staticmethod
    def _share(key: tuple, found: tuple[list[Use], list[tuple[str, str]]]) -> None:
        if len(_SHARED_DIRECT) >= MAX_SHARED_DIRECT:
            _SHARED_DIRECT.clear()
        _SHARED_DIRECT[key] = found

    def _uses_in(self, source: Module, definition: ast.AST, via: str) -> Iterator[tuple[Use | None, tuple[str, str] | None]]:
        for node in _walk_code(definition):
            line = getattr(node, "lineno", getattr(definition, "lineno", 0))

            def use(kind: str, text: str) -> Use:
                return Use(kind, text, source.name, line, via)

            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                yield from self._name(source, node, use)
            elif isinstance(node, ast.Attribute):
                dotted = source.resolve(node)
                if dotted is not None:
                    yield use("name", dotted), self._own(dotted)
                yield use("attribute", node.attr), None
            elif isinstance(node, ast.Call):
                yield from self._call(source, node, use)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield use("string", node.value), None
            elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
                yield use("operator", "@"), None
            elif isinstance(node, ast.Subscript) and _indexes_with_none(node.slice):
                yield use("index", "None"), None
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not definition:
                yield use("define", node.name), None

    def _name(self, source: Module, node: ast.Name, use) -> Iterator[tuple[Use | None, tuple[str, str] | None]]:
        if node.id in source.definitions:
            yield None, (source.name, node.id)
        if node.id in source.imports:
            dotted = source.imports[node.id]
            yield use("name", dotted), self._own(dotted)
        elif node.id in source.definitions:
            return
        elif node.id in BUILTINS:
            yield use("builtin", node.id), None
        else:
            for star in source.star_imports:  # `from torch import *`: finfo may be torch.finfo
                yield use("name", f"{star}.{node.id}"), self._own(f"{star}.{node.id}")

    def _call(self, source: Module, node: ast.Call, use) -> Iterator[tuple[Use | None, tuple[str, str] | None]]:
        if isinstance(node.func, ast.Attribute):
            yield use("method", node.func.attr), None
        callee = source.resolve(node.func)
        own = (isinstance(node.func, ast.Name) and node.func.id in source.definitions) or (callee is not None and self._own(callee) is not None)
        if not own:  # `dtype=` in a call of the submission's own helper is no cast
            for keyword in node.keywords:
                if keyword.arg:
                    yield use("keyword", keyword.arg), None
        literal = literal_getattr(node)
        if literal is not None:  # getattr(torch, "finfo") is torch.finfo
            target, attribute = literal
            yield use("attribute", attribute), None
            base = source.resolve(target)
            if base is not None:
                yield use("name", f"{base}.{attribute}"), self._own(f"{base}.{attribute}")

    def _own(self, dotted: str) -> tuple[str, str] | None:
        """"assignment.model.Cruncher" -> ("model", "Cruncher") when the submission defines it."""
        parts = dotted.split(".")
        if len(parts) >= 3 and parts[0] == self.package and self.defines(parts[1], parts[2]):
            return parts[1], parts[2]
        return None


REBINDING_ATTRIBUTES = ("__code__", "__globals__", "__dict__", "__wrapped__", "__call__", "__class__")


def _rebound_values(node: ast.AST) -> list[ast.AST]:
    """What `node` stores through a back door: `x.__code__ = v`, `globals()[k] = v`,
    `x.__dict__[k] = v`, `setattr(x, k, v)` on anything but self/cls: [v], else []."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(_back_door(target) for target in targets):
            return [node.value]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and len(node.args) == 3
            and not (isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls"))):
        return [node.args[2]]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("update", "setdefault") and _namespace(node.func.value):
        return list(node.args) + [k.value for k in node.keywords]
    return []


def _back_door(target: ast.AST) -> bool:
    if isinstance(target, ast.Attribute):
        return target.attr in REBINDING_ATTRIBUTES
    if isinstance(target, ast.Subscript):
        return _namespace(target.value)
    return False


def _namespace(node: ast.AST) -> bool:
    """globals(), vars(...), x.__dict__, x.__globals__: a namespace written by key."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars"):
        return True
    return isinstance(node, ast.Attribute) and node.attr in ("__dict__", "__globals__")


def literal_getattr(node: ast.Call) -> tuple[ast.AST, str] | None:
    """getattr(x, "name"[, default]) -> (x, "name"); None for anything else."""
    if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2:
        name = node.args[1]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            return node.args[0], name.value
    return None


def _walk_code(definition: ast.AST) -> Iterator[ast.AST]:
    """Every node of a definition that runs: its body, decorators, defaults and bases; not its
    annotations (jaxtyping's strings and types describe, they do not compute)."""
    if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        roots = [*definition.decorator_list, *definition.args.defaults, *[d for d in definition.args.kw_defaults if d], *definition.body]
    elif isinstance(definition, ast.ClassDef):
        roots = [*definition.decorator_list, *definition.bases, *[k.value for k in definition.keywords], *definition.body]
    else:
        roots = [definition]
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            children = [*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d], *node.body]
        elif isinstance(node, ast.AnnAssign):
            children = [node.target, *([node.value] if node.value else [])]
        elif isinstance(node, ast.arg):
            children = []
        else:
            children = list(ast.iter_child_nodes(node))
        stack.extend(reversed(children))


def _blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists inside a module-level if / try / with / for / while."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if isinstance(block, list):
            yield block
    for handler in getattr(node, "handlers", None) or []:
        yield handler.body


def _indexes_with_none(index: ast.AST) -> bool:
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    return any(isinstance(p, ast.Constant) and p.value is None for p in parts)
