"""Code a reference solution takes, working, from another assignment's reference.

A later assignment can build on an earlier one: the ``transformer`` handout ships a working
multi-head attention so that the assignment is about the wiring. Its reference says so with one
line instead of a copy::

    # GIVEN FROM attention: scaled_dot_product_attention, MultiHeadedAttention

:func:`expand_given` replaces that line with those top-level definitions of
``solutions/attention.py`` as they are in the reference (solution markers and ``# TODO``
comments dropped: they are handed out complete). Everything that reads a reference reads it
expanded (:attr:`dlgrade.authoring.registry.Assignment.solution_source`), so the given code exists once,
in the assignment it comes from.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable

from dlgrade.authoring.template import strip_solution_markers, todo_items

GIVEN = re.compile(r"^[ \t]*# GIVEN FROM (\w+):[ \t]*(.+?)[ \t]*$", re.M)


class GivenError(ValueError):
    """A ``# GIVEN FROM`` line names an assignment or a definition that does not exist."""


def without_todos(source: str) -> str:
    """``source`` without its ``# TODO:`` items and solution marker lines."""
    lines = source.splitlines(keepends=True)
    drop = {n for first, end in todo_items(lines) for n in range(first, end)}
    return strip_solution_markers("".join(line for n, line in enumerate(lines) if n not in drop))


def definitions(source: str, names: list[str], origin: str) -> str:
    """The top-level classes and functions ``names`` of ``source`` (decorators included), in the
    order asked for, separated by two blank lines."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found[node.name] = "\n".join(lines[first - 1:node.end_lineno])
    missing = [n for n in names if n not in found]
    if missing:
        raise GivenError(f"{origin} defines no {', '.join(missing)}")
    return "\n\n\n".join(found[n] for n in names)


def expand_given(source: str, read_reference: Callable[[str], str]) -> str:
    """``source`` with each ``# GIVEN FROM <assignment>: <names>`` line replaced by those
    definitions of that assignment's reference (``read_reference(name)``, itself expanded)."""

    def replace(match: re.Match) -> str:
        origin = match.group(1)
        names = [n.strip() for n in match.group(2).split(",") if n.strip()]
        try:
            other = read_reference(origin)
        except (OSError, KeyError) as exc:
            raise GivenError(f"# GIVEN FROM {origin}: no such reference ({exc})") from None
        return definitions(without_todos(other), names, f"the {origin} reference")

    return GIVEN.sub(replace, source)
