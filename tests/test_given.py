"""``# GIVEN FROM`` lines: a reference that ships another assignment's code, working."""
from __future__ import annotations

from pathlib import Path

import pytest

from dlgrade.authoring.given import GivenError, expand_given, without_todos
from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.template import make_stub, todo_items

BASE = '''\
import torch


def helper(x):
    """Doubles x."""
    # TODO: return twice x.
    #       (a continuation of the same TODO item)
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION


class Thing:
    def forward(self, x):
        # TODO: call helper
        # BEGIN SOLUTION
        return helper(x)
        # END SOLUTION


def unrelated():
    return 0
'''

LATER = '''\
import torch

# GIVEN FROM base: Thing, helper


def task(x):
    # TODO: use Thing
    # BEGIN SOLUTION
    return Thing().forward(x) + 1
    # END SOLUTION
'''


def write_assignments(root: Path) -> None:
    (root / "solutions").mkdir()
    (root / "solutions" / "base.py").write_text(BASE)
    (root / "solutions" / "later.py").write_text(LATER)


def test_todo_items_take_their_continuation_lines():
    lines = BASE.splitlines()
    assert [(lines[a], b - a) for a, b in todo_items(lines)] == [
        ("    # TODO: return twice x.", 2), ("        # TODO: call helper", 1)]


def test_given_definitions_come_complete_without_todos_or_markers(tmp_path):
    write_assignments(tmp_path)
    source = Assignment("later", tmp_path).solution_source
    assert "# GIVEN FROM" not in source
    # in the order asked for, without TODO comments or markers, the rest of the file untouched
    assert source.index("class Thing") < source.index("def helper") < source.index("def task")
    given = source[source.index("class Thing"):source.index("def task")]
    assert "TODO" not in given and "SOLUTION" not in given and "return 2 * x" in given
    assert "def unrelated" not in source
    assert "# TODO: use Thing" in source and "# BEGIN SOLUTION" in source
    namespace: dict = {}
    exec(Assignment("later", tmp_path).reference_source, namespace)
    assert namespace["task"](3) == 7


def test_the_stub_keeps_the_given_code_working(tmp_path):
    write_assignments(tmp_path)
    stub = make_stub(Assignment("later", tmp_path).solution_source)
    namespace: dict = {}
    exec(stub, namespace)
    assert namespace["Thing"]().forward(5) == 10
    with pytest.raises(NotImplementedError, match="TODO: implement task"):
        namespace["task"](1)


def test_a_file_without_given_lines_is_unchanged():
    assert expand_given(BASE, lambda name: pytest.fail("nothing to read")) == BASE
    assert without_todos("x = 1  # TODO: not a TODO item (not at the start)\n") == \
        "x = 1  # TODO: not a TODO item (not at the start)\n"


@pytest.mark.parametrize("line, message", [
    ("# GIVEN FROM base: Missing", "the base reference defines no Missing"),
    ("# GIVEN FROM nowhere: Thing", "# GIVEN FROM nowhere: no such reference"),
])
def test_given_lines_that_name_nothing_are_errors(tmp_path, line, message):
    write_assignments(tmp_path)
    (tmp_path / "solutions" / "later.py").write_text(f"{line}\n")
    with pytest.raises(GivenError, match=message):
        Assignment("later", tmp_path).solution_source
