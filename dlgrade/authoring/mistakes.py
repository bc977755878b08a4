"""Catalogued mistakes: each is the reference solution with a small textual edit.

The same edited source serves twice: the trusted grader runs it to recognise a student's output
("Hint: ..."), and the self-test grades it as if a student had handed it in.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from types import ModuleType


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer.

    Args:
        id: short stable identifier (``lstm_gate_order_ifog``).
        hint: the sentence shown after ``Hint:`` when a student's output matches.
        edits: ``(old, new)`` pairs applied to the reference source; each ``old`` must occur
            exactly once.
    """

    id: str
    hint: str
    edits: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def apply(self, source: str) -> str:
        """The reference source with this mistake's edits."""
        for old, new in self.edits:
            count = source.count(old)
            if count != 1:
                raise ValueError(f"mistake {self.id}: {old!r} occurs {count} times in the reference")
            source = source.replace(old, new)
        return source


def module_from_source(source: str, module_name: str, filename: str) -> ModuleType:
    """Execute trusted source as a fresh module object."""
    module = types.ModuleType(module_name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module
