"""Turn a reference solution into the student's skeleton.

Between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (each on a line of its own) the code is
replaced by ``raise NotImplementedError(...)`` at the block's indentation. Everything outside the
markers -- imports, ``__init__``, docstrings, the ``# TODO`` comments that explain each step --
is kept as it is.
"""
from __future__ import annotations

import ast
import re

BEGIN = re.compile(r"^([ \t]*)# BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")


TODO_START = re.compile(r"^[ \t]*# TODO:")
TODO_CONTINUATION = re.compile(r"^[ \t]*#[ \t]{2,}\S")


class MarkerError(ValueError):
    """Solution markers are unbalanced or nested."""


def enclosing_names(source: str) -> dict[int, str]:
    """Line number -> qualified name of the innermost function defined around it."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualified = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                        names[line] = qualified
                visit(child, qualified + ".")

    visit(ast.parse(source), "")
    return names


def make_stub(source: str, todo_message: str = "TODO: implement {name}") -> str:
    """The skeleton of ``source``: solution blocks become ``raise NotImplementedError``, with
    ``todo_message`` (``{name}``: the function's qualified name) as its message."""
    names = enclosing_names(source)
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin = BEGIN.match(line.rstrip("\r\n"))
        if begin:
            if inside:
                raise MarkerError(f"line {number}: BEGIN SOLUTION inside another solution block")
            inside = True
            where = names.get(number, "this part")
            message = todo_message.format(name=where).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'{begin.group(1)}raise NotImplementedError("{message}")\n')
            continue
        if END.match(line.rstrip("\r\n")):
            if not inside:
                raise MarkerError(f"line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise MarkerError("BEGIN SOLUTION without END SOLUTION")
    stub = "".join(out)
    ast.parse(stub)
    return stub


def solution_bodies(source: str) -> list[str]:
    """The code lines inside solution blocks (what must never reach students)."""
    bodies, current, inside = [], [], False
    for line in source.splitlines():
        if BEGIN.match(line):
            inside, current = True, []
        elif END.match(line):
            inside = False
            bodies.append("\n".join(current))
        elif inside:
            current.append(line)
    return bodies


def strip_solution_markers(source: str) -> str:
    """Drop ``# BEGIN SOLUTION`` / ``# END SOLUTION`` lines, keeping the code between them."""
    return re.sub(r"^[ \t]*# (BEGIN|END) SOLUTION[ \t]*\r?\n", "", source, flags=re.M)


def todo_items(lines: list[str]) -> list[tuple[int, int]]:
    """``(first, end)`` line ranges of every ``# TODO:`` item in ``lines``: its first line and
    the indented comment lines that continue it (``#       more text``)."""
    items, index = [], 0
    while index < len(lines):
        if TODO_START.match(lines[index]):
            end = index + 1
            while end < len(lines) and TODO_CONTINUATION.match(lines[end]) and not TODO_START.match(lines[end]):
                end += 1
            items.append((index, end))
            index = end
        else:
            index += 1
    return items


def todo_comments(source: str) -> dict[str, list[str]]:
    """``qualified function name -> [text of each # TODO: item]``: comment markers and the
    ``TODO:`` prefix removed, continuation lines joined with newlines."""
    owners = enclosing_names(source)
    lines = source.splitlines()
    found: dict[str, list[str]] = {}
    for first, end in todo_items(lines):
        text = [lines[first].split("# TODO:", 1)[1].strip()]
        text += [line.strip()[1:].strip() for line in lines[first + 1:end]]
        found.setdefault(owners.get(first + 1, "<module>"), []).append("\n".join(text))
    return found


def translate_comments(source: str, module_doc: str, todo: dict[str, list[str]]) -> str:
    """``source`` with its module docstring replaced by ``module_doc`` and the text of every
    ``# TODO:`` item by ``todo[<qualified function name>][<its index there>]``."""
    owners = enclosing_names(source)
    lines = source.splitlines(keepends=True)
    replaced: dict[int, list[str]] = {}
    seen: dict[str, int] = {}
    for first, end in todo_items([line.rstrip("\r\n") for line in lines]):
        owner = owners.get(first + 1, "<module>")
        index = seen[owner] = seen.get(owner, -1) + 1
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        text = todo[owner][index].splitlines() or [""]
        replaced[first] = [f"{indent}# TODO: {text[0]}\n"] + [f"{indent}#       {more}\n" for more in text[1:]]
        replaced.update({n: [] for n in range(first + 1, end)})
    out = [piece for n, line in enumerate(lines) for piece in replaced.get(n, [line])]
    tree = ast.parse("".join(out))
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) \
        and isinstance(getattr(tree.body[0], "value", None), ast.Constant) \
        and isinstance(tree.body[0].value.value, str) else None
    if doc is not None:
        quoted = '"""' + module_doc.replace("\\", "\\\\").replace('"""', '\\"""') + '"""\n'
        out = out[: doc.lineno - 1] + [quoted] + out[doc.end_lineno:]
    return "".join(out)
