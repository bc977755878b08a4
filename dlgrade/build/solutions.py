"""``solutions.zip`` for course staff: the reference notebook, executed, and the reference ``.py``."""
from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dlgrade.build.zips import write_zip
from dlgrade.notebook import build_notebook, notebook_text
from dlgrade.registry import Assignment


def executed_reference_notebook(assignment: Assignment) -> str:
    """The handout notebook with the reference code in it, run for real (check cells all pass)."""
    source = assignment.reference_source
    nb = build_notebook(assignment, source)
    checks = assignment.template_dir / assignment.checks_filename
    with tempfile.TemporaryDirectory(prefix="dlgrade-solutions-") as tmp:
        (Path(tmp) / checks.name).write_bytes(checks.read_bytes())
        client = NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": tmp}})
        client.execute()
    for cell in nb.cells:  # reproducible output: nothing machine- or run-specific
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)
    text = notebook_text(nb)
    if "[FAIL]" in text:
        raise RuntimeError(f"the reference notebook of {assignment.name} fails its own checks")
    return text


def build_solutions_zip(assignment: Assignment, path: Path) -> Path:
    """Write ``solutions.zip``: ``<name>_solution.ipynb`` (with outputs) and ``<name>.py``."""
    name = assignment.name
    members = {f"{name}/{name}_solution.ipynb": executed_reference_notebook(assignment),
               f"{name}/{name}.py": assignment.reference_source}
    return write_zip(path, members)
