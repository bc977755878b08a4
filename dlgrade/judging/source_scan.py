"""Forbidden torch built-ins, found by reading a submission's source in the trusted process.

The worker's detectors (:mod:`dlgrade.exposed.tripwires`) run beside the student's code, which can
disable them or rewrite the answers it sends. This scan parses the source with :mod:`ast` and
never runs it, so nothing the submission does changes its verdict; :func:`with_scan_findings`
merges it into the worker's answers.

Flagged (a *finding*, labelled with the assignment's ``FORBIDDEN`` value, the worker's wording):

* an attribute or import reaching a forbidden function or one of its private or aten variants
  (``F.scaled_dot_product_attention``, ``torch._scaled_dot_product_attention_math``,
  ``torch.ops.aten._thnn_fused_lstm_cell``, ``from torch.nn.functional import ... as f``), or a
  module the labels name in parentheses (``nn.MultiheadAttention``, ``nn.LSTMCell``), through any
  alias (``import torch.nn.functional as F``, ``G = F``, ``self.f = F``, ``[F][0]``, ``sys.modules``);
* such a name as a string looked up (``getattr(F, "sc" + "aled...")``, ``vars(F)[...]``,
  ``attrgetter``, ``__import__``, ``"aten::lstm_cell"`` given to a torch function), the strings
  folded where they are built from constants;
* a lookup the scan cannot read: ``getattr(<torch namespace>, <computed name>)``, ``__import__``
  or ``importlib.import_module`` of a computed name, ``exec``/``eval``/``compile`` of computed
  code (constant code is scanned): these stand for every label.

Comments, docstrings and other free text are never findings. An attribute of something the scan
cannot trace (``x.lstm``) counts only when the submission defines no such name itself.

Where a finding counts: a top-level def, class or assignment taints the names it binds; a
top-level statement that binds nothing (an expression, an import, an ``if`` test) or that runs
code at import (a call, a decorator, a metaclass, a store into torch or another module:
``torch.softmax = ...``) taints every target, since it could patch anything; except a forbidden
function called right there in an expression or assignment (``print(F.f(x))``,
``want = nn.LSTMCell(3, 4)(x)``: a notebook cell comparing with the built-in), which computes a
value and changes nothing the graders call, and likewise a call of the submission's own def that
cannot patch anything (no ``global``, no store outside its locals, no ``setattr``-like call).
Code under ``if __name__ == "__main__":`` is not scanned: the worker loads the code as a module of
its own name, so it never runs. A top-level name
whose code refers (by name) to a tainted one is tainted too, up to a fixed point; notebook cells
are one namespace, and a name defined twice is tainted by either definition.

Hostile input: a chunk that does not parse (``SyntaxError``) is skipped, since Python cannot run
it either. A chunk too large (over :data:`MAX_SCAN_CHARS`) or too deep for the parser
(``RecursionError``, ``MemoryError``) might still run in a worker (which can raise its recursion
limit first), so it fails closed: listed in :attr:`SourceScan.unscanned` and taken as a
module-level use of every label. Ordinary code is nowhere near either limit.
"""
from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from dlgrade.exposed.tripwires import forbidden_names

# the largest submission file the loader reads (dlgrade.supervisor.submission.MAX_SOURCE_BYTES):
# anything that can be handed in is scanned
MAX_SCAN_CHARS = 2 * 1024 * 1024
MAX_DEPTH = 64  # how deep string folding and alias resolution look; beyond it a value is unknown
MAX_VALUES = 64  # how many strings a folded expression may stand for
MAX_EXEC_DEPTH = 4  # exec("exec('...')"): how deep constant code is scanned
MODULE = "<module>"  # the scope of code run at import: it taints every target
UNSCANNED = "could not be scanned (too large or nested too deeply)"

# attributes of torch that are namespaces of functions: ``<anything>._VF.lstm_cell`` is flagged
# even when the scan cannot trace ``<anything>``
NAMESPACE_ATTRIBUTES = frozenset({"functional", "_VF", "_C", "_nn", "_VariableFunctions", "aten"})
LOOKUPS = frozenset({"builtins.getattr"})
NAME_GETTERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
IMPORTERS = frozenset({"builtins.__import__", "importlib.import_module", "importlib.__import__"})
CODE_RUNNERS = frozenset({"builtins.exec", "builtins.eval", "builtins.compile"})
STRING_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip"})
ATEN_STRING = re.compile(r"(?:torch\.ops\.)?aten(?:::|\.)(\w+)(?:\.\w+)?")
COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match,
            ast.ExceptHandler, ast.match_case) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
BUILTIN_NAMES = frozenset(dir(builtins))
# top-level statements whose direct calls are inert (a value computed and used there); a def, a
# class or an import is never one
INERT_WHEN_CALLED = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.expr)


class _PathNode(ast.AST):
    """An expression already resolved to ``path`` (``F`` in ``g = F.__getattribute__; g(...)``)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


@dataclass(frozen=True)
class Finding:
    """One use of a forbidden built-in: its label, where it is, and the scope it taints."""

    label: str
    chunk: str
    line: int
    scope: str  # a top-level name, or MODULE
    what: str


@dataclass
class SourceScan:
    """What :func:`scan_source` found; :meth:`forbidden_for` says what applies to a target."""

    findings: list[Finding] = field(default_factory=list)
    unscanned: list[str] = field(default_factory=list)  # labels of the chunks that failed closed
    tainted: dict[str, list[str]] = field(default_factory=dict)  # top-level name (or MODULE) -> labels

    def forbidden_for(self, target: str) -> list[str]:
        """The labels that apply to ``target`` (the name graders call): its own, those of the
        names it uses, and those of code run at import."""
        labels = self.tainted.get(target, []) + self.tainted.get(MODULE, [])
        return list(dict.fromkeys(labels))


def module_labels(forbidden: Mapping[str, str]) -> dict[str, str]:
    """The modules the labels name in parentheses, by class name: ``"torch.lstm_cell
    (nn.LSTMCell)"`` gives ``{"LSTMCell": "torch.lstm_cell (nn.LSTMCell)"}`` (the first label wins)."""
    found: dict[str, str] = {}
    for label in forbidden.values():
        for group in re.findall(r"\(([^()]*)\)", label):
            for name in group.split(","):
                name = name.strip().rpartition(".")[2]
                if name.isidentifier():
                    found.setdefault(name, label)
    return found


def _is_torch(path: str | None) -> bool:
    return path is not None and (path == "torch" or path.startswith("torch."))


def neutralise_magics(source: str) -> str:
    """``source`` with IPython lines (``%magic``, ``!shell``) replaced by ``pass`` at the same indent."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines[i] = line[: len(line) - len(stripped)] + "pass"
    return "\n".join(lines)


def _parse(source: str) -> ast.Module | None:
    """The tree of ``source`` (else of it with magics neutralised); None when neither parses, as
    Python cannot run it either. Raises RecursionError/MemoryError for code too big or deep."""
    if len(source) > MAX_SCAN_CHARS:
        raise MemoryError(f"more than {MAX_SCAN_CHARS} characters")
    for text in (source, neutralise_magics(source)):  # the source first: what runs is what is scanned
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):  # ValueError: null bytes
            continue
    return None


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes(node)`` as a list: the same nodes in the same order, without its two
    generators per node (the scan visits every node several times: with them, half its time)."""
    children: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            children.append(value)
        elif isinstance(value, list):
            children.extend([item for item in value if isinstance(item, ast.AST)])
    return children


def _walk(node: ast.AST) -> list[ast.AST]:
    """``ast.walk(node)`` as a list: the same nodes in the same (breadth-first) order."""
    nodes = [node]
    for current in nodes:  # grows while it is read
        nodes.extend(_children(current))
    return nodes


def _top_level(tree: ast.Module) -> Iterator[tuple[ast.AST, bool]]:
    """The top-level statements, compound statements opened: ``(node, is_statement)``; a
    compound statement's own expressions (tests, iterables) come as ``(expression, False)``."""
    stack: list[tuple[ast.AST, bool]] = [(s, True) for s in reversed(tree.body)]
    while stack:
        node, is_statement = stack.pop()
        if is_statement and _is_main_guard(node):  # never runs: the worker imports the code as a module
            stack.extend((s, True) for s in reversed(node.orelse))
            continue
        if is_statement and isinstance(node, COMPOUND):
            stack.extend(reversed([(c, isinstance(c, (ast.stmt, ast.ExceptHandler, ast.match_case)))
                                   for c in _children(node)]))
        else:
            yield node, is_statement


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` (either way round)."""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)):
        return False
    sides = [node.test.left, *node.test.comparators]
    return (any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides)
            and any(isinstance(x, ast.Constant) and x.value == "__main__" for x in sides))


PATCHING_CALLS = frozenset({"setattr", "delattr", "exec", "eval", "compile", "globals", "vars", "__import__"})


def _patches(definition: ast.AST) -> bool:
    """Whether calling a top-level def (or class: its methods run when it is used) may change
    something outside its own locals: ``global``/``nonlocal``, a store into an attribute or item
    of a name it did not bind itself, or ``setattr``/``exec``/``globals()``-like calls."""
    local: set[str] = set()
    nodes = _walk(definition)
    for node in nodes:
        if isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
    for node in nodes:
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and (
                getattr(node.func, "id", None) in PATCHING_CALLS or getattr(node.func, "attr", None) in
                ("__setattr__", "__delattr__", "update", "setdefault")):
            return True
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = node
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if not (isinstance(root, ast.Name) and root.id in local):
                return True
    return False


def _directly_called(nodes: list[tuple[ast.AST, bool]]) -> set[int]:
    """The ids of the nodes of a top-level statement (``nodes``: its :func:`_subtree`) that are
    called right there, at import (``F.f`` in ``print(F.f(x))``), outside any function body: what
    they compute is a value, used there, and changes nothing the graders call."""
    called: set[int] = set()
    for node, in_body in nodes:
        if isinstance(node, ast.Call) and not in_body:
            called.add(id(node.func))
    return called


def _subtree(node: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``node`` (itself included) and whether it lies in a function body."""
    stack = [(node, False)]
    while stack:
        node, in_body = stack.pop()
        yield node, in_body
        children = _children(node)
        if isinstance(node, FUNCTIONS):
            body = node.body
            body = {id(b) for b in (body if isinstance(body, list) else [body])}  # a lambda's: one expression
            stack.extend([(c, in_body or id(c) in body) for c in reversed(children)])
        else:
            stack.extend([(c, in_body) for c in reversed(children)])


def _bound_names(node: ast.AST) -> tuple[str, ...]:
    """The top-level names a top-level statement binds or changes (``X.forward = f`` changes X)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    targets = (node.targets if isinstance(node, ast.Assign)
               else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
    names = []
    for target in targets:
        for sub in ast.walk(target):
            while isinstance(sub, (ast.Attribute, ast.Subscript)):
                sub = sub.value
            if isinstance(sub, ast.Name):
                names.append(sub.id)
    return tuple(dict.fromkeys(names))


class _Scanner:
    """The two passes over a submission's trees: what names stand for, then the findings."""

    def __init__(self, forbidden: Mapping[str, str]) -> None:
        self.names = forbidden_names(forbidden)
        self.modules = module_labels(forbidden)
        self.every_label = list(dict.fromkeys(forbidden.values()))
        self.aliases: dict[str, str] = {"__builtins__": "builtins"}  # name -> dotted module path
        self.attribute_aliases: dict[str, str] = {}  # ``self.F = F``: attribute name -> path
        self.strings: dict[str, set[str] | None] = {}  # name -> the strings assigned to it (None: unknown)
        self.defined: set[str] = set()  # names the submission defines (defs, attributes, variables)
        self.toplevel: set[str] = set()  # its top-level defs and classes
        self.attributes: set[str] = set()  # attribute names it gives objects (self.lstm = ..., methods)
        self.star_torch = False  # a ``from torch... import *``
        self.scan = SourceScan()
        self.references: dict[str, set[str]] = {}
        self.direct: dict[str, set[str]] = {}
        self.called_at_import: set[str] = set()  # submission names called by inert top-level statements
        self.definitions: dict[str, list[ast.AST]] = {}  # top-level def/class name -> its definitions

    # -- what names stand for ---------------------------------------------------------------------

    def learn(self, trees: list[ast.Module]) -> None:
        """Collect aliases, string values and defined names (flow-insensitive, to a fixed point)."""
        bindings: list[tuple[ast.AST, ast.AST]] = []
        for tree in trees:
            for node, _ in _top_level(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.toplevel.add(node.name)
                    self.definitions.setdefault(node.name, []).append(node)
            for node in _walk(tree):
                self._learn_node(node, bindings)
        for _ in range(8):
            changed = False
            for target, value in bindings:
                changed |= self._bind(target, value)
            if not changed:
                break

    def _learn_node(self, node: ast.AST, bindings: list) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.partition(".")[0]
                self._alias(name, alias.name if alias.asname else name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    self.star_torch |= _is_torch(node.module)
                else:
                    self._alias(alias.asname or alias.name, f"{node.module}.{alias.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defined.add(node.name)
            if isinstance(node, ast.ClassDef):  # methods and class attributes
                for item in node.body:
                    targets = item.targets if isinstance(item, ast.Assign) else [item]
                    self.attributes.update(t.name if isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef))
                                           else t.id for t in targets
                                           if isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Name)))
        elif isinstance(node, ast.arg):
            self.defined.add(node.arg)
            self.strings[node.arg] = None
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            self.defined.add(node.id)
        elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
            self.defined.add(node.attr)
            self.attributes.add(node.attr)
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            # setattr(self, "lstm", m), self.add_module("lstm", m), self.register_buffer("lstm", t)
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            position = {"setattr": 1, "add_module": 0, "register_module": 0, "register_buffer": 0,
                        "register_parameter": 0}.get(name)
            if position is not None and len(node.args) > position:
                argument = node.args[position]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    self.attributes.add(argument.value)
        if isinstance(node, ast.Assign):
            bindings.extend((t, node.value) for t in node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            bindings.append((node.target, node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            bindings.append((node.target, ast.Starred(node.iter)))  # an element of the iterable
        elif isinstance(node, ast.arguments):
            positional = node.posonlyargs + node.args
            bindings.extend(zip(positional[len(positional) - len(node.defaults):], node.defaults))
            bindings.extend((a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None)

    def _alias(self, name: str, path: str) -> bool:
        if name in self.aliases and (_is_torch(self.aliases[name]) or self.aliases[name] == path):
            return False  # a torch meaning, once seen, is kept
        self.aliases[name] = path
        return True

    def _bind(self, target: ast.AST, value: ast.AST) -> bool:
        """Record what ``target = value`` makes the target stand for; whether anything changed."""
        if isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [ast.Starred(value)] * len(target.elts)
            if len(values) != len(target.elts):
                values = [ast.Starred(value)] * len(target.elts)
            return any([self._bind(t, v) for t, v in zip(target.elts, values)])
        elements = value.value.elts if isinstance(value, ast.Starred) and isinstance(
            value.value, (ast.Tuple, ast.List, ast.Set)) else None
        candidates = elements if elements is not None else [] if isinstance(value, ast.Starred) else [value]
        changed = False
        paths = [p for p in (self.path(c) for c in candidates) if p is not None]
        path = next((p for p in paths if _is_torch(p)), paths[0] if paths else None)
        if path is not None:
            if isinstance(target, ast.Name):
                changed |= self._alias(target.id, path)
            elif isinstance(target, ast.Attribute) and target.attr not in self.attribute_aliases:
                self.attribute_aliases[target.attr] = path
                changed = True
        name = target.id if isinstance(target, ast.Name) else target.arg if isinstance(target, ast.arg) else None
        if path is not None and isinstance(target, ast.arg):
            changed |= self._alias(name, path)
        if name is not None:
            folded = [self.fold(c) for c in candidates] if candidates else [None]
            known = None if any(f is None for f in folded) else set().union(*folded)
            old = self.strings.get(name, set())
            new = None if old is None or known is None else old | known
            if name not in self.strings or new != old:
                self.strings[name] = new
                changed = True
        return changed

    def path(self, node: ast.AST, depth: int = 0) -> str | None:
        """The dotted path of the module or object ``node`` stands for (``torch.nn.functional``), if known."""
        attributes: list[str] = []
        while isinstance(node, ast.Attribute) and len(attributes) < MAX_DEPTH:
            attributes.append(node.attr)
            node = node.value
        base = self._base_path(node, depth + 1) if depth < MAX_DEPTH else None
        if base is None:  # an attribute that was given a module (self.F = F) stands for it
            for i in range(len(attributes) - 1, -1, -1):
                if attributes[i] in self.attribute_aliases:
                    base, attributes = self.attribute_aliases[attributes[i]], attributes[:i]
                    break
            else:
                return None
        return ".".join([base, *reversed(attributes)])

    def _base_path(self, node: ast.AST, depth: int) -> str | None:
        if isinstance(node, _PathNode):
            return node.path
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id) or (f"builtins.{node.id}" if node.id in BUILTIN_NAMES else None)
        if isinstance(node, ast.Call) and node.args:
            if self.path(node.func, depth) == "builtins.vars":
                base = self.path(node.args[0], depth)
                return None if base is None else f"{base}.__dict__"
            lookup = self._lookup_parts(node, depth)
            if lookup is not None:
                obj, name = lookup
                base, names = self.path(obj, depth), self.fold(name, depth)
                return f"{base}.{next(iter(names))}" if base and names and len(names) == 1 else None
            if self.path(node.func, depth) in IMPORTERS:
                names = self.fold(node.args[0], depth)
                return next(iter(names)) if names and len(names) == 1 else None
            return None
        if isinstance(node, ast.Subscript):
            container = self.path(node.value, depth)
            names = self.fold(node.slice, depth) if container else None
            key = next(iter(names)) if names and len(names) == 1 else None
            if container == "sys.modules":
                return key
            namespace = container is not None and (container == "builtins" or container.endswith(".__dict__"))
            if namespace and key is not None:
                return f"{container.removesuffix('.__dict__')}.{key}"
            if isinstance(node.value, (ast.Tuple, ast.List)):
                index = node.slice
                if isinstance(index, ast.Constant) and isinstance(index.value, int):
                    elts = node.value.elts
                    return self.path(elts[index.value], depth) if -len(elts) <= index.value < len(elts) else None
            return None
        if isinstance(node, ast.IfExp):
            paths = [self.path(node.body, depth), self.path(node.orelse, depth)]
            return next((p for p in paths if _is_torch(p)), paths[0] or paths[1])
        if isinstance(node, ast.BoolOp):
            paths = [self.path(v, depth) for v in node.values]
            return next((p for p in paths if _is_torch(p)), next((p for p in paths if p), None))
        if isinstance(node, ast.NamedExpr):
            return self.path(node.value, depth)
        return None

    def _lookup_parts(self, call: ast.Call, depth: int = 0) -> tuple[ast.AST, ast.AST] | None:
        """``(object, name)`` of an attribute lookup by name: ``getattr(obj, name)``,
        ``obj.__getattribute__(name)``, ``object.__getattribute__(obj, name)``."""
        func = call.func
        if not call.args:
            return None
        if isinstance(func, ast.Attribute) and func.attr in ("__getattribute__", "__getattr__"):
            if self.path(func.value, depth) in ("builtins.object", "builtins.type"):
                return (call.args[0], call.args[1]) if len(call.args) >= 2 else None
            return func.value, call.args[0]
        callee = self.path(func, depth)
        for method in (".__getattribute__", ".__getattr__"):  # g = F.__getattribute__; g("name")
            if callee is not None and callee.endswith(method) and callee != f"builtins.object{method}":
                return _PathNode(callee.removesuffix(method)), call.args[0]
        if len(call.args) >= 2 and callee in LOOKUPS:
            return call.args[0], call.args[1]
        return None

    def fold(self, node: ast.AST, depth: int = 0) -> set[str] | None:
        """The strings ``node`` can evaluate to when built from constants, else None."""
        if depth > MAX_DEPTH:
            return None
        values = self._fold(node, depth + 1)
        return values if values is None or len(values) <= MAX_VALUES else None

    def _fold(self, node: ast.AST, depth: int) -> set[str] | None:
        if isinstance(node, ast.Constant):
            value = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
            return {value} if isinstance(value, str) else None
        if isinstance(node, ast.Name):
            return self.strings.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            if isinstance(node.op, ast.Mult):
                count = node.right if isinstance(node.right, ast.Constant) else node.left
                text = node.left if count is node.right else node.right
                texts = self.fold(text, depth)
                n = count.value if isinstance(count, ast.Constant) else None
                return {t * n for t in texts} if texts is not None and isinstance(n, int) and 0 <= n <= 64 else None
            left, right = self.fold(node.left, depth), self.fold(node.right, depth)
            return None if left is None or right is None else {a + b for a in left for b in right}
        if isinstance(node, ast.JoinedStr):
            parts: set[str] | None = {""}
            for value in node.values:
                inner = value.value if isinstance(value, ast.FormattedValue) else value
                if isinstance(value, ast.FormattedValue) and value.format_spec is not None:
                    return None
                texts = self.fold(inner, depth)
                if texts is None or parts is None:
                    return None
                parts = {a + b for a in parts for b in texts}
            return parts
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            texts = self.fold(node.value, depth)
            parts = (node.slice.lower, node.slice.upper, node.slice.step)
            if texts is None or not all(p is None or isinstance(p, ast.Constant) for p in parts):
                return None
            bounds = [None if p is None else p.value for p in parts]
            if not all(b is None or isinstance(b, int) for b in bounds) or bounds[2] == 0:
                return None
            return {t[slice(*bounds)] for t in texts}
        if isinstance(node, ast.IfExp):
            a, b = self.fold(node.body, depth), self.fold(node.orelse, depth)
            return None if a is None or b is None else a | b
        if isinstance(node, ast.Call):
            return self._fold_call(node, depth)
        return None

    def _fold_call(self, node: ast.Call, depth: int) -> set[str] | None:
        func = node.func
        callee = self.path(func, depth)
        if callee in ("builtins.str", "builtins.compile") and node.args:  # compile: its source
            return self.fold(node.args[0], depth)
        if callee == "builtins.reversed" and len(node.args) == 1:
            texts = self.fold(node.args[0], depth)
            return None if texts is None else {t[::-1] for t in texts}
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr in STRING_METHODS and not node.args:
            texts = self.fold(func.value, depth)
            return None if texts is None else {getattr(t, func.attr)() for t in texts}
        if func.attr == "replace" and len(node.args) == 2:
            texts, old, new = (self.fold(n, depth) for n in (func.value, *node.args))
            if texts is None or old is None or new is None:
                return None
            return {t.replace(o, n) for t in texts for o in old for n in new}
        if func.attr == "join" and len(node.args) == 1:
            separators = self.fold(func.value, depth)
            items = node.args[0]
            if isinstance(items, ast.Call) and self.path(items.func, depth) == "builtins.reversed" and items.args:
                texts = self.fold(items.args[0], depth)  # "".join(reversed("...")): the string reversed
                return None if texts is None or separators is None else {
                    s.join(t[::-1]) for s in separators for t in texts}
            if separators is None or not isinstance(items, (ast.List, ast.Tuple)):
                return None
            joined: set[str] = {""}
            for i, element in enumerate(items.elts):
                texts = self.fold(element, depth)
                if texts is None:
                    return None
                joined = {j + (s if i else "") + t for j in joined for s in separators for t in texts}
                if len(joined) > MAX_VALUES:
                    return None
            return joined
        return None

    # -- the findings -----------------------------------------------------------------------------

    def label_of_name(self, name: str) -> str | None:
        """The label an identifier stands for: a forbidden function (any variant) or module."""
        return self.modules.get(name) or self.names.match(name)

    def label_of_string(self, text: str, dotted: bool) -> str | None:
        """The label a string stands for: an identifier, ``aten::name.overload``, or (``dotted``,
        for lookups and imports) any part of a dotted path."""
        match = ATEN_STRING.fullmatch(text)
        if match:
            return self.label_of_name(match[1])
        if text.isidentifier():
            return self.label_of_name(text)
        if dotted:
            parts = text.split(".")
            if all(p.isidentifier() for p in parts):
                return next((label for p in parts if (label := self.label_of_name(p))), None)
        return None

    def scan_tree(self, tree: ast.Module, chunk: str, scope: tuple[str, ...] | None = None, depth: int = 0) -> None:
        """Record the findings and name references of one chunk (``scope``: exec'd code's place).

        A top-level statement counts for the names it binds, and for every target (MODULE) when
        it binds none or runs code at import (:meth:`_runs_at_import`).
        """
        for top, is_statement in _top_level(tree):
            nodes = list(_subtree(top))  # walked once, read by the passes below
            called: set[int] = set()
            if scope is not None:
                where = scope
            else:
                owners = _bound_names(top) if is_statement else ()
                where = owners + ((MODULE,) if not owners or self._runs_at_import(top, nodes) else ())
                if not set(owners) & self.toplevel and isinstance(top, INERT_WHEN_CALLED):
                    called = _directly_called(nodes)
            for node, _ in nodes:
                # a forbidden function called right there at import (a notebook cell comparing with
                # the built-in) counts for the names the statement binds, not for every target;
                # calling a def of the submission does too, unless that def may patch something
                here = tuple(w for w in where if w != MODULE) if id(node) in called else where
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    for name in here:
                        self.references.setdefault(name, set()).add(node.id)
                    if here is not where:
                        self.called_at_import.add(node.id)
                for label, what in self._node_findings(node, chunk, here, depth):
                    for name in here:
                        self._find(label, chunk, getattr(node, "lineno", 0), name, what)

    def _runs_at_import(self, statement: ast.AST, nodes: list[tuple[ast.AST, bool]]) -> bool:
        """Whether a top-level definition or assignment (``nodes``: its :func:`_subtree`) runs
        code when the module is imported: a call or decorator, a class keyword (metaclass) or a
        base that is not a module's class, or a store into anything but the submission's own
        top-level defs and classes (``torch.softmax = ...``); a function body runs only when called."""
        if getattr(statement, "decorator_list", None):
            return True
        if isinstance(statement, ast.ClassDef) and (
                statement.keywords or any(self.path(base) is None for base in statement.bases)):
            return True
        for node, in_body in nodes:
            if in_body:
                continue
            if isinstance(node, ast.Call):
                return True
            if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
                root = node
                while isinstance(root, (ast.Attribute, ast.Subscript)):
                    root = root.value
                if not (isinstance(root, ast.Name) and root.id in self.toplevel):
                    return True
        return False

    def _find(self, label: str, chunk: str, line: int, scope: str, what: str) -> None:
        if label not in self.direct.setdefault(scope, set()):
            self.scan.findings.append(Finding(label, chunk, line, scope, what))
        self.direct[scope].add(label)

    def _traceable(self, base: str | None, name: str, previous: ast.AST) -> bool:
        """Whether an attribute ``name`` of ``previous`` (resolved to ``base``) is torch's: it is
        when ``previous`` is not traced unless the submission gives objects such an attribute."""
        if base is not None:
            return _is_torch(base)
        if isinstance(previous, ast.Attribute) and previous.attr in NAMESPACE_ATTRIBUTES - self.attributes:
            return True
        return name not in self.attributes

    def _node_findings(self, node: ast.AST, chunk: str, where: tuple[str, ...],
                       depth: int) -> Iterator[tuple[str, str]]:
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            label = self.label_of_name(node.attr)
            if label and self._traceable(self.path(node.value), node.attr, node.value):
                yield label, _show(node)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            label = self.label_of_name(node.id)
            if label and self.star_torch and node.id not in self.defined:
                yield label, node.id
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            for alias in node.names:
                full = f"{module}.{alias.name}" if module else alias.name
                label = self.label_of_string(full, dotted=True) if _is_torch(full) else None
                if label:
                    yield label, f"import {full}"
        elif isinstance(node, ast.Call):
            yield from self._call_findings(node, chunk, where, depth)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            yield from self._subscript_findings(node)

    def _dynamic(self, node: ast.AST) -> Iterator[tuple[str, str]]:
        for label in self.every_label:
            yield label, _show(node)

    def _call_findings(self, node: ast.Call, chunk: str, where: tuple[str, ...],
                       depth: int) -> Iterator[tuple[str, str]]:
        lookup = self._lookup_parts(node)
        callee = self.path(node.func)
        if lookup is not None:
            obj, name = lookup
            base, texts = self.path(obj), self.fold(name)
            if texts is None:
                if _is_torch(base):
                    yield from self._dynamic(node)
                return
            for text in texts:
                label = self.label_of_string(text, dotted=True)
                if label and self._traceable(base, text, obj):
                    yield label, _show(node)
        elif callee in NAME_GETTERS and node.args:  # the object comes later: a dotted name is torch's
            for text in self.fold(node.args[0]) or ():
                label = self.label_of_string(text, dotted=True)
                if label and ("." in text or text not in self.attributes):
                    yield label, _show(node)
        elif callee in IMPORTERS:
            arguments = node.args + [k.value for k in node.keywords]
            if not arguments or self.fold(arguments[0]) is None:
                yield from self._dynamic(node)
                return
            for argument in arguments:
                for text in self._fold_strings(argument):
                    label = self.label_of_string(text, dotted=True)
                    if label:
                        yield label, _show(node)
        elif callee in CODE_RUNNERS:
            texts = self.fold(node.args[0]) if node.args else None
            if texts is None:
                yield from self._dynamic(node)
                return
            for text in texts:
                yield from self._scan_code(text, chunk, where, depth, node)
        elif _is_torch(callee):  # torch._C._jit_get_operation("aten::lstm_cell"), vars(F).get("..."), ...
            for argument in node.args + [k.value for k in node.keywords]:
                for text in self._fold_strings(argument):
                    label = self.label_of_string(text, dotted=False)
                    if label:
                        yield label, _show(node)

    def _fold_strings(self, node: ast.AST) -> set[str]:
        """The strings ``node`` folds to, those in a list or tuple of them too (``fromlist``)."""
        if isinstance(node, (ast.List, ast.Tuple)):
            return set().union(*(self.fold(e) or set() for e in node.elts))
        return self.fold(node) or set()

    def _scan_code(self, text: str, chunk: str, where: tuple[str, ...], depth: int,
                   node: ast.AST) -> Iterator[tuple[str, str]]:
        """Findings of code run with ``exec``/``eval``: scanned in place, failing closed."""
        if depth >= MAX_EXEC_DEPTH:
            yield from self._dynamic(node)
            return
        try:
            tree = _parse(text)
        except (RecursionError, MemoryError):
            yield from self._dynamic(node)
            return
        if tree is None:
            try:  # eval's source is an expression
                tree = ast.Module([ast.Expr(ast.parse(text, mode="eval").body)], [])
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return
        self.learn([tree])
        self.scan_tree(tree, chunk, where, depth + 1)

    def _subscript_findings(self, node: ast.Subscript) -> Iterator[tuple[str, str]]:
        """``vars(F)["name"]``, ``F.__dict__["name"]``: a namespace looked up by a string."""
        value = node.value
        if isinstance(value, ast.Call) and self.path(value.func) == "builtins.vars" and value.args:
            owner = value.args[0]
        elif isinstance(value, ast.Attribute) and value.attr == "__dict__":
            owner = value.value
        else:
            return
        base, texts = self.path(owner), self.fold(node.slice)
        if texts is None:
            if _is_torch(base):
                yield from self._dynamic(node)
            return
        for text in texts:
            label = self.label_of_string(text, dotted=False)
            if label and self._traceable(base, text, owner):
                yield label, _show(node)

    def finish(self) -> SourceScan:
        """Spread the findings along name references, to a fixed point."""
        # a def or class called at import that may patch something (or calls one that may) makes
        # what it uses count for every target after all
        patchers = {name for name, nodes in self.definitions.items() if any(map(_patches, nodes))}
        grown = True
        while grown:
            grown = False
            for name in set(self.definitions) - patchers:
                if self.references.get(name, set()) & patchers:
                    patchers.add(name)
                    grown = True
        for name in self.called_at_import & patchers:
            self.references.setdefault(MODULE, set()).add(name)
        tainted = {name: set(labels) for name, labels in self.direct.items()}
        changed = True
        while changed:
            changed = False
            for name, refs in self.references.items():
                gained = set().union(*(tainted.get(r, set()) for r in refs)) - tainted.get(name, set())
                if gained:
                    tainted.setdefault(name, set()).update(gained)
                    changed = True
        order = {label: i for i, label in enumerate(self.every_label)}
        self.scan.tainted = {name: sorted(labels, key=order.__getitem__) for name, labels in tainted.items() if labels}
        return self.scan


def _show(node: ast.AST, limit: int = 80) -> str:
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, AttributeError):
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scan_source(chunks: list[tuple[str, str]], forbidden: Mapping[str, str]) -> SourceScan:
    """Scan a submission's ``(label, source)`` chunks (a ``.py`` is one, a notebook gives one a
    code cell) for uses of the ``forbidden`` built-ins (python name -> label); never runs them."""
    scanner = _Scanner(forbidden)
    if not forbidden:
        return scanner.scan
    trees: list[tuple[str, ast.Module]] = []
    for label, source in chunks:
        try:
            tree = _parse(source)
        except (RecursionError, MemoryError):
            scanner.scan.unscanned.append(label)
            continue
        if tree is not None:
            trees.append((label, tree))
    try:
        scanner.learn([tree for _, tree in trees])
        for label, tree in trees:
            scanner.scan_tree(tree, label)
    except (RecursionError, MemoryError):  # not expected (the walks are iterative): fail closed
        scanner.scan.unscanned.append("(the analysis)")
    for label in scanner.scan.unscanned:
        for forbidden_label in scanner.every_label:
            scanner._find(forbidden_label, label, 0, MODULE, UNSCANNED)
    return scanner.finish()


def with_scan_findings(request: dict, answer: dict, scan: SourceScan) -> dict:
    """``answer`` with the scan's labels for ``request["target"]`` merged into its ``"forbidden"``
    (a new dict; only for call requests: an inspect answer is returned as it is)."""
    if request.get("op") != "call":
        return answer
    reported = answer.get("forbidden")
    labels = [x for x in reported if isinstance(x, str)] if isinstance(reported, (list, tuple)) else []
    target = request.get("target")
    labels += scan.forbidden_for(target) if isinstance(target, str) else []
    return {**answer, "forbidden": list(dict.fromkeys(labels))}
