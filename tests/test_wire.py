"""The wire messages: one constructor for error answers, statuses as enums, answers that say where."""
from __future__ import annotations

import ast
import linecache
from pathlib import Path

import pytest
import torch

import dlgrade
from dlgrade.exposed import execute, protocol, wire

PACKAGE = Path(dlgrade.__file__).parent


def test_error_answer_has_exactly_the_error_keys():
    answer = wire.error_answer(wire.Where.RUNNING, "the worker stopped")
    assert answer == {"ok": False, "error": "the worker stopped", "where": "running"}
    assert set(answer) == set(wire.ErrorAnswer.__required_keys__)


def test_error_answer_refuses_a_place_that_is_not_a_where():
    with pytest.raises(ValueError):
        wire.error_answer("somewhere", "x")  # type: ignore[arg-type]


def test_exception_answer_quotes_the_students_line_not_dlgrades():
    source = "def f(x):\n    return x.nope\n"
    linecache.cache["student.py"] = (len(source), None, source.splitlines(True), "student.py")
    namespace: dict = {}
    exec(compile(source, "student.py", "exec"), namespace)
    try:
        namespace["f"](torch.zeros(1))
    except AttributeError as exc:
        answer = wire.exception_answer(wire.Where.CALLING, exc)
    assert answer["where"] == "calling"
    assert answer["error"].startswith("AttributeError: ")
    assert answer["error"].endswith("(line 2: return x.nope)")


@pytest.mark.parametrize("exc, expected", [
    (SystemExit(3), "SystemExit(3): your code called sys.exit()/exit()"),
    (NotImplementedError("implement LSTMCell.forward"), "NotImplementedError: implement LSTMCell.forward"),
], ids=["exit", "stub"])
def test_exception_answer_words_exits_and_stubs_without_a_line(exc, expected):
    assert wire.exception_answer(wire.Where.LOADING, exc)["error"] == expected


def test_enums_travel_as_their_plain_values():
    request: wire.InspectRequest = {"op": wire.Op.INSPECT, "target": "f", "method": None}
    assert protocol.encode(request) == protocol.encode({"op": "inspect", "target": "f", "method": None})


def test_an_unknown_op_is_a_protocol_error_answer():
    answer = execute.run({}, {"op": "delete", "target": "f"}, {})  # type: ignore[typeddict-item]
    assert answer == wire.error_answer(wire.Where.PROTOCOL, "unknown op 'delete'")


def test_inspect_answers_name_the_kind_with_the_enum():
    namespace = {"Layer": torch.nn.Linear, "f": len, "n": 3}
    kinds = {name: execute.run(namespace, {"op": wire.Op.INSPECT, "target": name}, {})["kind"]
             for name in ("Layer", "f", "n", "absent")}
    assert kinds == {"Layer": wire.TargetKind.CLASS, "f": wire.TargetKind.FUNCTION, "n": wire.TargetKind.OTHER,
                     "absent": wire.TargetKind.MISSING}


def _hand_built_error_dicts(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"ok", "error"} <= keys:
                lines.append(node.lineno)
    return lines


def test_no_module_but_wire_builds_an_error_answer_by_hand():
    found = {str(p.relative_to(PACKAGE)): lines for p in sorted(PACKAGE.rglob("*.py"))
             if p.name != "wire.py" and (lines := _hand_built_error_dicts(p))}
    assert found == {}
