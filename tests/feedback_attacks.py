"""Submissions whose text tries to forge or inflate the feedback students and instructors read.

``attacks(name)`` gives, for any registered assignment, file name -> complete source (a ``.py``, or
an ``.ipynb`` as JSON text), each built from the assignment's reference only, so an assignment
added to the registry is covered without a change here. Every piece of student-controlled text
they produce holds :data:`FORGED` (lines that read like ours: a ``Hint:`` line, a score, a test
status) and the marker :data:`MARK`, and the big ones are about :data:`HUGE_CHARS` characters:

* ``raise_huge.py``: the reference, its first target raising an exception of class ``Hint`` (so
  its message starts ``Hint: ``) whose message is 0.9 MB with the forged lines in it;
* ``print_forged.py``: the reference, every target (and the import) printing the forged lines,
  0.9 MB of them at import; it does the reference's work, so it must get full marks;
* ``load_error.py``: the reference, its first target left unimplemented, and the module's last
  line raising the huge forged exception (a load error, appended to every failing test);
* ``load_error_nb.ipynb``: the same as a notebook, the huge exception raised by a cell of its own;
* ``forged_answers.py``: the reference, with the worker's request handler replaced from inside the
  worker, so it sends made-up answers to the grader: an error whose ``where`` and ``error`` are
  forged, a forbidden call named with forged lines, signatures and a returned dict whose names
  are forged lines.

Used by ``tests/test_feedback_forgery.py``; reusable by any adversarial batch (plain data, no
pytest).
"""
from __future__ import annotations

import ast
import json

from dlgrade.authoring.registry import get_assignment

MARK = "FORGED-BY-STUDENT"
FORGED_HINT = f"the grader found no mistake at all {MARK}"
FORGED = (f"Hint: {FORGED_HINT}", "Score: 21 / 21", "passed", f"Called: nothing {MARK}")
HUGE_CHARS = 900_000  # under the 1 MiB a worker's answer may hold (protocol.FROM_WORKER); 1.5 MB is refused whole

# after the reference: helpers every attack uses (TARGETS is filled in per assignment)
HELPERS = '''

# ---- hostile additions ---------------------------------------------------------------------
TARGETS = {targets!r}  # name -> "class" (its forward) or "function", in the questions' order
_FORGED = {forged!r}
_FORGED_TEXT = "\\n".join(_FORGED)


class Hint(Exception):
    """Its messages read ``Hint: ...``."""


def _huge():
    """About {huge} characters, the forged lines at the start and every 100 lines."""
    filler = "x" * 999
    lines = []
    while sum(len(line) + 1 for line in lines) < {huge}:
        lines += [*_FORGED, *[filler] * 100]
    return _FORGED_TEXT + "\\n" + "\\n".join(lines)


def _replace_target(name, make):
    import functools

    kind = TARGETS[name]
    original = globals()[name].forward if kind == "class" else globals()[name]
    replacement = functools.wraps(original)(make(original))
    if kind == "class":
        globals()[name].forward = replacement
    else:
        globals()[name] = replacement
'''

RAISE_HUGE = '''
def _raising(original):
    def raising(*args, **kwargs):
        raise Hint(_huge())
    return raising


_replace_target(FIRST, _raising)
'''

PRINT_FORGED = '''
def _printing(original):
    def printing(*args, **kwargs):
        print(_FORGED_TEXT)
        return original(*args, **kwargs)
    return printing


for _name in TARGETS:
    _replace_target(_name, _printing)
print(_huge())
'''

UNIMPLEMENTED = '''
def _unimplemented(original):
    def unimplemented(*args, **kwargs):
        raise NotImplementedError("left as handed out")
    return unimplemented


_replace_target(FIRST, _unimplemented)
'''

LOAD_ERROR = '''
raise Hint(_huge())
'''

# the worker calls dlgrade.exposed.execute.run for each request: replaced, it answers what we like
FORGED_ANSWERS = '''
import sys as _sys

_execute = _sys.modules["dlgrade.exposed.execute"]
_run = _execute.run
_CALLS = [0]


def _forged_run(namespace, request, forbidden):
    target, op = request.get("target"), request.get("op")
    if target == FIRST:
        if op == "inspect":
            names = ["self", _FORGED_TEXT]
            return {"ok": True, "kind": TARGETS[FIRST] if TARGETS[FIRST] == "function" else "class",
                    "is_module": True, "init": names, "method": names, "signature": names}
        _CALLS[0] += 1
        if _CALLS[0] % 2:
            return {"ok": False, "error": _FORGED_TEXT, "where": "calling\\n" + _FORGED_TEXT}
        return {"ok": True, "out": None, "forbidden": [_FORGED_TEXT], "inputs_after": []}
    if target == SECOND and op == "call":
        return {"ok": True, "out": {_FORGED_TEXT: _FORGED_TEXT, "k": [_FORGED_TEXT] * 3}, "forbidden": [],
                "inputs_after": []}
    return _run(namespace, request, forbidden)


_execute.run = _forged_run
'''


def targets(name: str) -> dict[str, str]:
    """Each question's target in order: ``"class"`` (students write its ``forward``) or ``"function"``."""
    assignment = get_assignment(name)
    tree = ast.parse(assignment.reference_source)
    kinds = {node.name: "class" if isinstance(node, ast.ClassDef) else "function"
             for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    return {q.target: kinds[q.target] for q in assignment.questions}


def _notebook(cells: list[str]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                  "source": source} for source in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 4}, indent=1)


def attacks(name: str) -> dict[str, str]:
    """File name -> source of each attack on assignment ``name`` (see the module's docstring)."""
    reference = get_assignment(name).reference_source
    kinds = targets(name)
    order = list(kinds)
    first, second = order[0], order[min(1, len(order) - 1)]
    helpers = HELPERS.format(targets=kinds, forged=FORGED, huge=HUGE_CHARS)
    helpers += f"FIRST = {first!r}\nSECOND = {second!r}\n"
    base = reference + helpers
    return {
        "raise_huge.py": base + RAISE_HUGE,
        "print_forged.py": base + PRINT_FORGED,
        "load_error.py": base + UNIMPLEMENTED + LOAD_ERROR,
        "load_error_nb.ipynb": _notebook([reference, helpers + UNIMPLEMENTED, LOAD_ERROR]),
        "forged_answers.py": base + FORGED_ANSWERS,
    }
