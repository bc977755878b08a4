"""Generate ``student_template/<name>/`` from the reference: skeleton, notebook, public checks."""
from __future__ import annotations

import tempfile
from pathlib import Path

from dlgrade.grading.session import record_public_checks
from dlgrade.notebook import build_notebook, notebook_text
from dlgrade.registry import Assignment
from dlgrade.template import make_stub


def text_files(assignment: Assignment) -> dict[str, str]:
    """The generated text files (name -> content): ``<name>.py`` and ``<name>.ipynb``."""
    stub = make_stub(assignment.solution_source)
    return {f"{assignment.module_name}.py": stub,
            f"{assignment.module_name}.ipynb": notebook_text(build_notebook(assignment, stub))}


def generate(assignment: Assignment, out_dir: Path | None = None) -> list[Path]:
    """Write the template into ``out_dir`` (default: ``student_template/<name>``)."""
    out_dir = out_dir or assignment.template_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in text_files(assignment).items():
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    checks = out_dir / assignment.checks_filename
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / checks.name
        record_public_checks(assignment, staged)
        checks.write_bytes(staged.read_bytes())
    written.append(checks)
    return written
