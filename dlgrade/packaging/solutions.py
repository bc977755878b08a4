"""``solutions.zip`` for course staff: the reference notebook, executed, and the reference ``.py``."""
from __future__ import annotations

import tempfile
from pathlib import Path

from dlgrade.authoring.generate import solved
from dlgrade.authoring.kernels import execute_notebook
from dlgrade.authoring.notebook import build_notebook, notebook_text
from dlgrade.authoring.registry import Assignment
from dlgrade.judging.i18n import DEFAULT_LANG
from dlgrade.packaging.zips import write_zip


def executed_reference_notebook(assignment: Assignment, checks: bytes, lang: str = DEFAULT_LANG) -> str:
    """The handout notebook with the reference code in it, run for real against the public
    ``checks`` (its check cells all pass)."""
    nb = build_notebook(assignment, solved(assignment, lang), lang)
    with tempfile.TemporaryDirectory(prefix="dlgrade-solutions-") as tmp:
        (Path(tmp) / assignment.checks_filename).write_bytes(checks)
        # one stream output per cell, however the kernel batched the streamed lines: reproducible
        execute_notebook(nb, tmp, timeout=300, record_timing=False, coalesce_streams=True)
    for cell in nb.cells:  # reproducible output: nothing machine- or run-specific
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)
    text = notebook_text(nb)
    if "[FAIL]" in text:
        raise RuntimeError(f"the reference notebook of {assignment.name} fails its own checks")
    return text


def build_solutions_zip(assignment: Assignment, path: Path, checks: bytes, lang: str = DEFAULT_LANG) -> Path:
    """Write ``solutions.zip``: ``<name>_solution.ipynb`` (with outputs) and ``<name>.py``."""
    name = assignment.name
    members = {f"{name}/{name}_solution.ipynb": executed_reference_notebook(assignment, checks, lang),
               f"{name}/{name}.py": solved(assignment, lang)}
    return write_zip(path, members)
