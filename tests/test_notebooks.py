"""The handout notebooks, executed for real with nbclient in a copy of ``student_template/<a>/``.

* as handed out, every cell runs; the check cells print readable FAIL lines, no traceback;
* filled with the reference's code, every check cell passes;
* with a catalogued mistake applied, the check cell prints the mistake's ``Hint:``.

One kernel per notebook; each notebook runs in its own copy of the template folder, so the check
cells find ``<a>_checks.json`` next to the notebook as students' do.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import fill_notebook

from dlgrade.authoring.kernels import execute_notebook
from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.supervisor.submission import CHECK_TAG

pytestmark = pytest.mark.slow

SUMMARY = re.compile(r"^(\d+) of (\d+) public checks passed\.$", re.M)


def copy_template(assignment, tmp_path: Path) -> Path:
    folder = tmp_path / assignment.name
    shutil.copytree(assignment.template_dir, folder)
    return folder


def load_notebook(folder: Path, assignment) -> nbformat.NotebookNode:
    return nbformat.read(folder / f"{assignment.module_name}.ipynb", as_version=4)


def is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def execute(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    return execute_notebook(nb, folder, timeout=120, allow_errors=True)


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def text_of(cell) -> str:
    """Everything a cell printed (streams and text results)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", [])))
    return "".join(parts)


def check_outputs(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Target -> printed output of its check cell."""
    outputs = {}
    for cell in nb.cells:
        if is_check_cell(cell):
            target = re.search(r"check\((['\"])(\w+)\1", cell.source).group(2)
            outputs[target] = text_of(cell)
    return outputs


def result_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("[PASS]", "[FAIL]"))]


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request):
    return get_assignment(request.param)


def test_stub_notebook_runs_and_checks_fail_readably(assignment, tmp_path):
    folder = copy_template(assignment, tmp_path)
    nb = execute(load_notebook(folder, assignment), folder)
    assert cell_errors(nb) == []
    outputs = check_outputs(nb)
    assert list(outputs) == [q.target for q in assignment.questions]
    for target, text in outputs.items():
        lines = result_lines(text)
        assert lines, f"{target}: no result lines in {text!r}"
        assert all(line.startswith("[FAIL]") for line in lines), text
        assert "NotImplementedError" in text, text
        assert f"TODO: implement {target}" in text, text
        assert "Traceback" not in text, text
        summary = SUMMARY.search(text)
        assert summary and summary.group(1) == "0" and int(summary.group(2)) == len(lines), text


def test_filled_notebook_passes_every_check(assignment, tmp_path):
    folder = copy_template(assignment, tmp_path)
    reference = assignment.reference_source
    nb = execute(fill_notebook(load_notebook(folder, assignment), assignment, reference), folder)
    assert cell_errors(nb) == []
    outputs = check_outputs(nb)
    assert list(outputs) == [q.target for q in assignment.questions]
    for target, text in outputs.items():
        lines = result_lines(text)
        assert lines and all(line.startswith("[PASS]") for line in lines), text
        assert "Traceback" not in text and "Hint:" not in text, text
        summary = SUMMARY.search(text)
        assert summary and summary.group(1) == summary.group(2) == str(len(lines)), text
    # a check cell prints its report and shows no value after it (no stray True/False)
    shown = [out.get("data", {}).get("text/plain") for cell in nb.cells if is_check_cell(cell)
             for out in cell.get("outputs", []) if out.get("output_type") == "execute_result"]
    assert shown == [], shown


def test_notebook_with_a_catalogued_mistake_prints_its_hint(tmp_path):
    assignment = get_assignment("rnn")
    mistake = next(m for m in assignment.mistakes if m.id == "lstm_gate_order_ifog")
    source = ReferenceOracle(assignment).mistake_source(mistake)
    folder = copy_template(assignment, tmp_path)
    nb = execute(fill_notebook(load_notebook(folder, assignment), assignment, source), folder)
    assert cell_errors(nb) == []
    outputs = check_outputs(nb)
    text = outputs["LSTMCell"]
    assert any(line.startswith("[FAIL]") for line in result_lines(text)), text
    assert any(line.strip() == f"Hint: {mistake.hint}" for line in text.splitlines()), text
    assert "Traceback" not in text
    # the GRU cell does not use the LSTM gates: its checks still pass
    assert all(line.startswith("[PASS]") for line in result_lines(outputs["GRUCell"])), outputs["GRUCell"]


def test_notebooks_run_in_a_kernel_that_does_not_listen_on_tcp(tmp_path, capfd):
    """Kernels start on local sockets: no "running over TCP without encryption" warning, and the
    kernel is shut down afterwards (no "Parent appears to have exited")."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; print(os.getcwd())")])
    execute_notebook(nb, tmp_path, timeout=60)
    assert nb.cells[0].outputs[0]["text"].strip() == str(tmp_path)
    err = capfd.readouterr().err
    assert "TCP" not in err and "Parent appears to have exited" not in err, err


def test_the_closing_cell_names_a_command_the_handout_has(assignment):
    """The handout installs no ``dlgrade`` command: its notebook says ``python -m dlgrade check``."""
    nb = load_notebook(assignment.template_dir, assignment)
    closing = nb.cells[-1].source
    assert f"python -m dlgrade check {assignment.module_name}.ipynb" in closing, closing
    assert not re.search(r"^dlgrade check", closing, re.M), closing
