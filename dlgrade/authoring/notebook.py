"""The student notebook, written with nbformat from the skeleton and the assignment's text."""
from __future__ import annotations

import ast

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.setup_cell import setup_cell_source
from dlgrade.authoring.translations import assignment_text
from dlgrade.judging.i18n import DEFAULT_LANG, Messages
from dlgrade.supervisor.submission import CHECK_IMPORT, CHECK_TAG, SETUP_TAG


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


def check_cell_source(target: str, t: Messages = Messages()) -> str:
    """A check cell: the public checks of ``target``, or what to run first where the set-up cell
    has not run (no checker to import: Colab after a restart)."""
    return (t("notebook.check_cell", target=target) + "\n"
            "try:\n"
            f"    {CHECK_IMPORT}\n"
            "except ModuleNotFoundError:\n"
            f"    raise ModuleNotFoundError({t('notebook.run_setup_first')!r}) from None\n"
            f"check({target!r}, globals())")


def build_notebook(assignment: Assignment, stub_source: str, lang: str = DEFAULT_LANG,
                   payload: bytes | None = None) -> nbformat.NotebookNode:
    """The handout notebook in ``lang``: intro, the set-up cell (carrying ``payload``, see
    :mod:`dlgrade.authoring.setup_cell`), then per question its text, code and check cell."""
    text, t = assignment_text(assignment, lang), Messages(lang)
    targets = [q.target for q in assignment.questions]
    header, chunks = split_questions(stub_source, targets)
    setup = new_code_cell(setup_cell_source(assignment.checks_filename, t, payload),
                          metadata={"tags": [SETUP_TAG], "cellView": "form",  # Colab shows its title only
                                    "jupyter": {"source_hidden": True}})
    cells = [new_markdown_cell(f"# {text.title}\n\n{text.intro}".strip() + "\n\n" + t("notebook.setup")),
             setup, new_code_cell(header)]
    for target, chunk in zip(targets, chunks):
        question = text.questions[target]
        cells.append(new_markdown_cell(f"## {question.title}\n\n{question.instructions}"))
        cells.append(new_code_cell(chunk))
        cells.append(new_code_cell(check_cell_source(target, t), metadata={"tags": [CHECK_TAG]}))
    cells.append(new_markdown_cell(t("notebook.submit", module=assignment.module_name,
                                     hidden=t("handout.hidden")).strip()))
    for index, cell in enumerate(cells):
        cell["id"] = f"{assignment.name}-{index:02d}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """Serialized notebook, stable from run to run."""
    return nbformat.writes(nb) + "\n"
