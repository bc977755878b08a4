"""The student template: ``dlgrade.authoring.template`` and the committed ``student_template/`` files.

Unit tests of :func:`dlgrade.authoring.template.make_stub` / :func:`dlgrade.authoring.template.solution_bodies`, then,
for every assignment:

* drift: the committed ``<a>.py`` / ``<a>.ipynb`` are exactly what ``dlgrade generate`` writes;
* the committed ``<a>_checks.json`` matches one recorded afresh from the reference;
* no line of a solution body reaches students (stub, notebook, checks file);
* the stub keeps the reference's ``__init__`` methods and docstrings;
* the notebook has every question's code and exactly one tagged check cell per question.
"""
from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from dlgrade.authoring.generate import generate, text_files
from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.authoring.setup_cell import carried_files
from dlgrade.authoring.template import MarkerError, make_stub, solution_bodies
from dlgrade.handout.checks import load_checks
from dlgrade.supervisor.submission import CHECK_TAG, SETUP_TAG, is_dlgrade_cell

REGENERATE = "run `make generate` (or `.venv/bin/dlgrade generate`) and commit the result"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# ---------------------------------------------------------------------------------------------
# make_stub / solution_bodies
# ---------------------------------------------------------------------------------------------

METHOD_SOURCE = dedent('''
    """Module docstring."""
    import torch


    class Cell(torch.nn.Module):
        """A cell."""

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = n

        def forward(self, x):
            """One step."""
            # TODO: multiply x by n.
            # TODO: then add one.
            # BEGIN SOLUTION
            y = x * self.n
            return y + 1
            # END SOLUTION


    def helper(x):
        # TODO: square x.
        # BEGIN SOLUTION
        return x * x
        # END SOLUTION
''')


def test_make_stub_replaces_block_at_its_indentation():
    stub = make_stub(METHOD_SOURCE)
    lines = stub.splitlines()
    assert '        raise NotImplementedError("TODO: implement Cell.forward")' in lines
    assert '    raise NotImplementedError("TODO: implement helper")' in lines
    # the solution code and the markers are gone
    assert "y = x * self.n" not in stub
    assert "return y + 1" not in stub
    assert "return x * x" not in stub
    assert "BEGIN SOLUTION" not in stub and "END SOLUTION" not in stub


def test_make_stub_keeps_everything_outside_the_markers():
    stub = make_stub(METHOD_SOURCE)
    expected = dedent('''
        """Module docstring."""
        import torch


        class Cell(torch.nn.Module):
            """A cell."""

            def __init__(self, n: int) -> None:
                super().__init__()
                self.n = n

            def forward(self, x):
                """One step."""
                # TODO: multiply x by n.
                # TODO: then add one.
                raise NotImplementedError("TODO: implement Cell.forward")


        def helper(x):
            # TODO: square x.
            raise NotImplementedError("TODO: implement helper")
    ''')
    assert stub == expected


def test_make_stub_result_parses_and_raises_when_called():
    stub = make_stub(METHOD_SOURCE)
    ast.parse(stub)
    namespace: dict[str, Any] = {}
    exec(compile(stub, "<stub>", "exec"), namespace)
    cell = namespace["Cell"](3)
    assert cell.n == 3
    with pytest.raises(NotImplementedError, match=r"TODO: implement Cell\.forward"):
        cell(torch.ones(2))
    with pytest.raises(NotImplementedError, match="TODO: implement helper"):
        namespace["helper"](2)


def test_make_stub_names_nested_classes_and_functions():
    source = dedent('''
        class Outer:
            class Inner:
                def method(self):
                    # BEGIN SOLUTION
                    return 1
                    # END SOLUTION


        def outer():
            def inner():
                # BEGIN SOLUTION
                return 2
                # END SOLUTION
            return inner
    ''')
    stub = make_stub(source)
    assert '            raise NotImplementedError("TODO: implement Outer.Inner.method")' in stub.splitlines()
    assert '        raise NotImplementedError("TODO: implement outer.inner")' in stub.splitlines()
    ast.parse(stub)


def test_make_stub_tab_indentation_and_trailing_blanks_on_markers():
    source = "def f(x):\n\t# BEGIN SOLUTION  \n\treturn x + 1\n\t# END SOLUTION\t\n"
    assert make_stub(source) == 'def f(x):\n\traise NotImplementedError("TODO: implement f")\n'


def test_make_stub_without_markers_is_identity():
    source = "def f(x):\n    # TODO: keep me\n    return x\n"
    assert make_stub(source) == source


def test_make_stub_keeps_lines_after_the_block():
    source = dedent('''
        def f(x):
            # BEGIN SOLUTION
            y = x + 100
            # END SOLUTION
            return y
    ''')
    assert make_stub(source) == dedent('''
        def f(x):
            raise NotImplementedError("TODO: implement f")
            return y
    ''')


@pytest.mark.parametrize("source, message", [
    pytest.param(dedent('''
        def f():
            # BEGIN SOLUTION
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
            # END SOLUTION
    '''), "inside another", id="nested"),
    pytest.param(dedent('''
        def f():
            # BEGIN SOLUTION
            return 1
    '''), "without END", id="begin-without-end"),
    pytest.param(dedent('''
        def f():
            return 1
            # END SOLUTION
    '''), "without BEGIN", id="end-without-begin"),
    pytest.param(dedent('''
        def f():
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
            # END SOLUTION
    '''), "without BEGIN", id="extra-end"),
])
def test_make_stub_rejects_unbalanced_or_nested_markers(source, message):
    with pytest.raises(MarkerError, match=message):
        make_stub(source)


def test_marker_error_is_a_value_error():
    assert issubclass(MarkerError, ValueError)


def test_make_stub_handles_crlf_line_endings():
    source = "def f(x):\r\n    # BEGIN SOLUTION\r\n    return x + 12345\r\n    # END SOLUTION\r\n"
    stub = make_stub(source)
    assert "x + 12345" not in stub
    assert "TODO: implement f" in stub


def test_solution_bodies():
    assert solution_bodies(METHOD_SOURCE) == [
        "        y = x * self.n\n        return y + 1",
        "    return x * x",
    ]


def test_solution_bodies_empty_block_and_no_blocks():
    assert solution_bodies("x = 1\n") == []
    assert solution_bodies("def f():\n    # BEGIN SOLUTION\n    # END SOLUTION\n") == [""]


# ---------------------------------------------------------------------------------------------
# the committed student templates
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=ASSIGNMENTS)
def assignment(request):
    return get_assignment(request.param)


@pytest.fixture(scope="module")
def generated(assignment, tmp_path_factory) -> Path:
    """A freshly generated template (stub, notebook, recorded checks) in a temporary folder."""
    out = tmp_path_factory.mktemp(f"generated-{assignment.name}")
    generate(assignment, out)
    return out


def committed(assignment, name: str) -> Path:
    path = assignment.template_dir / name
    assert path.exists(), f"{path} is missing: {REGENERATE}"
    return path


def test_committed_text_files_match_the_generator(assignment):
    """Drift test: the stub and the notebook are byte-for-byte what the generator writes."""
    for name, text in text_files(assignment).items():
        path = committed(assignment, name)
        assert path.read_bytes() == text.encode("utf-8"), (
            f"student_template/{assignment.name}/{name} is out of date with "
            f"solutions/{assignment.name}.py or assignments/{assignment.name}/: {REGENERATE}")


def test_generate_writes_the_same_text_files(assignment, generated):
    for name, text in text_files(assignment).items():
        assert (generated / name).read_bytes() == text.encode("utf-8")
    assert (generated / assignment.checks_filename).exists()


def _assert_same(expected: Any, actual: Any, where: str, float_tolerance: bool) -> None:
    """Recursive equality; float tensors within 1e-6 when ``float_tolerance``, else exact."""
    assert type(actual) is type(expected), f"{where}: {type(expected).__name__} vs {type(actual).__name__}"
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype, f"{where}: dtype {expected.dtype} vs {actual.dtype}"
        assert actual.shape == expected.shape, f"{where}: shape {list(expected.shape)} vs {list(actual.shape)}"
        if float_tolerance and expected.is_floating_point():
            # The reference's outputs may differ in the last bits from one CPU (or BLAS kernel) to
            # another, so recorded float outputs are compared within 1e-6, not bit for bit.
            torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-6, equal_nan=True,
                                       msg=lambda m: f"{where}: {m}")
        else:
            assert torch.equal(actual, expected), f"{where}: tensors differ"
    elif isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), f"{where}: keys {sorted(expected)} vs {sorted(actual)}"
        for key in expected:
            _assert_same(expected[key], actual[key], f"{where}.{key}", float_tolerance)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{where}: length {len(expected)} vs {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            _assert_same(e, a, f"{where}[{i}]", float_tolerance)
    else:
        assert actual == expected, f"{where}: {expected!r} vs {actual!r}"


def test_committed_checks_match_a_fresh_recording(assignment, generated):
    old = load_checks(committed(assignment, assignment.checks_filename))
    new = load_checks(generated / assignment.checks_filename)
    hint = f"student_template/{assignment.name}/{assignment.checks_filename} is out of date: {REGENERATE}"
    assert (old.assignment, old.lang, old.forbidden, old.hints) == (new.assignment, new.lang, new.forbidden,
                                                                   new.hints), hint
    assert old.assignment == assignment.name
    assert [(t.name, t.nodeid, t.points) for t in old.tests] == [(t.name, t.nodeid, t.points) for t in new.tests], hint
    for old_test, new_test in zip(old.tests, new.tests):
        where = old_test.nodeid
        assert [c.kind for c in old_test.checks] == [c.kind for c in new_test.checks], hint
        for i, (a, b) in enumerate(zip(old_test.checks, new_test.checks)):
            at = f"{where} check {i}"
            assert (a.mistakes is None) == (b.mistakes is None), f"{at}: {hint}"
            # requests (targets, init arguments, parameters, inputs, upstream gradients) are drawn
            # from seeded generators: exactly equal
            _assert_same(b.request, a.request, f"{at} request", float_tolerance=False)
            _assert_same(b.expected, a.expected, f"{at} expected", float_tolerance=True)
            assert [h for h, _ in a.mistakes] == [h for h, _ in b.mistakes], f"{at}: mistake hints differ"
            for (h, ra), (_, rb) in zip(a.mistakes, b.mistakes):
                _assert_same(rb, ra, f"{at} mistake {h!r}", float_tolerance=True)


def test_checks_file_format(assignment):
    data = json.loads(committed(assignment, assignment.checks_filename).read_text())
    assert data["assignment"] == assignment.name
    assert data["forbidden"] == assignment.forbidden
    tests = load_checks(assignment.template_dir / assignment.checks_filename).tests
    assert tests, "no public checks recorded"
    targets = {q.target for q in assignment.questions}
    for test in tests:
        assert test.points > 0
        assert test.checks, test.name
        for check in test.checks:
            assert check.kind in ("api", "shapes", "values", "gradients", "unchanged")
            assert check.request["target"] in targets
            assert check.expected["ok"] is True
    # every question has at least one public check
    assert {c.request["target"] for t in tests for c in t.checks} == targets


def _solution_lines(assignment) -> list[str]:
    lines = []
    for body in solution_bodies(assignment.solution_source):
        lines += [line.strip() for line in body.splitlines() if len(line.strip()) > 12]
    return lines


def test_solution_lines_found(assignment):
    assert len(_solution_lines(assignment)) >= 5


@pytest.mark.parametrize("kind", ["stub", "notebook", "checks"])
def test_no_solution_line_reaches_students(assignment, kind):
    name = {"stub": f"{assignment.module_name}.py", "notebook": f"{assignment.module_name}.ipynb",
            "checks": assignment.checks_filename}[kind]
    text = committed(assignment, name).read_text()
    if kind == "notebook":
        # also look at the cell sources themselves (the JSON escapes quotes and newlines)
        nb = nbformat.reads(text, as_version=4)
        text += "\n".join(cell.source for cell in nb.cells)
    leaked = [line for line in _solution_lines(assignment) if line in text]
    assert not leaked, f"solution lines found in student_template/{assignment.name}/{name}: {leaked}"


def _definitions(source: str) -> dict[str, ast.AST]:
    """Qualified name -> class/function node, for every definition in ``source``."""
    found: dict[str, ast.AST] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                found[prefix + child.name] = child
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(source), "")
    return found


def test_stub_keeps_init_and_docstrings(assignment):
    reference = assignment.solution_source
    stub = committed(assignment, f"{assignment.module_name}.py").read_text()
    ref_defs, stub_defs = _definitions(reference), _definitions(stub)
    assert sorted(stub_defs) == sorted(ref_defs)
    assert ast.get_docstring(ast.parse(stub)) == ast.get_docstring(ast.parse(reference))
    for name, node in ref_defs.items():
        assert ast.get_docstring(stub_defs[name]) == ast.get_docstring(node), f"docstring of {name} changed"
    inits = [name for name in ref_defs if name.endswith(".__init__")]
    assert inits, "the reference has no __init__ methods?"
    assert stub.count("def __init__") == reference.count("def __init__")
    for name in inits:
        ref_init = ast.get_source_segment(reference, ref_defs[name])
        assert ast.get_source_segment(stub, stub_defs[name]) == ref_init, f"{name} changed in the stub"
    # every question's target raises NotImplementedError in the stub
    for question in assignment.questions:
        assert f'raise NotImplementedError("TODO: implement {question.target}' in stub


def test_stub_keeps_todo_comments(assignment):
    reference = assignment.solution_source
    stub = committed(assignment, f"{assignment.module_name}.py").read_text()
    todos = [line for line in reference.splitlines() if line.strip().startswith("# TODO")]
    assert todos
    stub_lines = stub.splitlines()
    assert all(line in stub_lines for line in todos)


def _check_target(cell) -> str | None:
    """The target of a check cell's ``check(target, globals())`` call."""
    for node in ast.walk(ast.parse(cell.source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
            assert isinstance(node.args[0], ast.Constant)
            return node.args[0].value
    return None


def test_notebook_has_every_question_and_one_check_cell_each(assignment):
    text = committed(assignment, f"{assignment.module_name}.ipynb").read_text()
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    targets = [q.target for q in assignment.questions]
    check_cells = [c for c in nb.cells if CHECK_TAG in c.get("metadata", {}).get("tags", [])]
    assert all(c.cell_type == "code" for c in check_cells)
    assert [_check_target(c) for c in check_cells] == targets
    for cell in check_cells:
        assert "from dlgrade.handout.checks import check" in cell.source
        assert "globals()" in cell.source
    # each question: its markdown (title), then the code cell defining the target, then its check cell
    for question in assignment.questions:
        index = next(i for i, c in enumerate(nb.cells)
                     if c.cell_type == "markdown" and c.source.startswith(f"## {question.title}"))
        markdown, code, check_cell = nb.cells[index:index + 3]
        assert question.instructions in markdown.source
        assert code.cell_type == "code" and CHECK_TAG not in code.get("metadata", {}).get("tags", [])
        top_level = [n.name for n in ast.parse(code.source).body
                     if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
        assert top_level == [question.target]
        assert f"TODO: implement {question.target}" in code.source
        assert _check_target(check_cell) == question.target
    # the set-up cell comes first (Colab shows its title only; the template's carries nothing)
    [setup] = [c for c in nb.cells if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    assert nb.cells.index(setup) == 1 and setup.metadata["cellView"] == "form"
    assert carried_files(setup.source) == {} and is_dlgrade_cell(setup.source, None)
    # all code cells but the check cells and the set-up cell together are the stub
    code = "\n\n\n".join(c.source for c in nb.cells if c.cell_type == "code" and c not in check_cells
                         and c is not setup)
    stub = committed(assignment, f"{assignment.module_name}.py").read_text()
    assert _definitions(code).keys() == _definitions(stub).keys()
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
