"""The student notebook, written with nbformat from the skeleton and the assignment's text."""
from __future__ import annotations

import ast

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlgrade.registry import Assignment
from dlgrade.submission import CHECK_TAG

SUBMIT_TEXT = """\
## Submitting

Save the notebook, then hand in `{module}.ipynb` (or `{module}.py`, which holds the same code) as
your instructor tells you. Before that, you can run every public check from a terminal:

```
dlgrade check {module}.ipynb
```

The graders run more checks than these public ones (other shapes, float64, gradients, ...).
"""


def split_questions(source: str, targets: list[str]) -> tuple[str, list[str]]:
    """Split module source into the part before the first target and one chunk per target."""
    tree = ast.parse(source)
    starts = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in targets:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            starts[node.name] = first
    missing = [t for t in targets if t not in starts]
    if missing:
        raise ValueError(f"the solution does not define {', '.join(missing)}")
    lines = source.splitlines()
    order = sorted(targets, key=starts.__getitem__)
    bounds = [starts[t] - 1 for t in order] + [len(lines)]
    chunks = {t: "\n".join(lines[bounds[i]:bounds[i + 1]]).strip("\n") for i, t in enumerate(order)}
    header = "\n".join(lines[: bounds[0]]).strip("\n")
    return header, [chunks[t] for t in targets]


def check_cell_source(target: str) -> str:
    return (f"# Check {target} (public checks only; this cell is not graded and is not submitted)\n"
            f"from dlgrade.checks import check\n"
            f"check({target!r}, globals())")


def build_notebook(assignment: Assignment, stub_source: str) -> nbformat.NotebookNode:
    """The handout notebook: intro, set-up cell, then per question its text, code and check cell."""
    spec = assignment.spec
    questions = assignment.questions
    header, chunks = split_questions(stub_source, [q.target for q in questions])
    cells = [new_markdown_cell(f"# {spec.TITLE}\n\n{spec.INTRO}".strip()), new_code_cell(header)]
    for question, chunk in zip(questions, chunks):
        cells.append(new_markdown_cell(f"## {question.title}\n\n{question.instructions}"))
        cells.append(new_code_cell(chunk))
        cells.append(new_code_cell(check_cell_source(question.target), metadata={"tags": [CHECK_TAG]}))
    cells.append(new_markdown_cell(SUBMIT_TEXT.format(module=assignment.module_name).strip()))
    for index, cell in enumerate(cells):
        cell["id"] = f"{assignment.name}-{index:02d}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """Serialized notebook, stable from run to run."""
    return nbformat.writes(nb) + "\n"
