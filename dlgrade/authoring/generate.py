"""Generate ``student_template/<name>/`` from the reference: skeleton, notebook, public checks.

The committed template is the English one; a handout in another language is generated the same
way when it is built (``dlgrade build --lang``).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from dlgrade.authoring.notebook import build_notebook, notebook_text
from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.template import make_stub, strip_solution_markers, translate_comments
from dlgrade.authoring.translations import assignment_text
from dlgrade.grading.child import record_public_checks
from dlgrade.judging.i18n import DEFAULT_LANG, Messages


def translated_source(assignment: Assignment, lang: str = DEFAULT_LANG) -> str:
    """The reference (markers kept) with its module docstring and ``# TODO:`` comments in ``lang``."""
    if lang == DEFAULT_LANG:
        return assignment.solution_source
    text = assignment_text(assignment, lang)
    return translate_comments(assignment.solution_source, text.module_doc, text.todo)


def skeleton(assignment: Assignment, lang: str = DEFAULT_LANG) -> str:
    """The student's ``<name>.py`` in ``lang``."""
    return make_stub(translated_source(assignment, lang), Messages(lang)("stub.todo", name="{name}"))


def solved(assignment: Assignment, lang: str = DEFAULT_LANG) -> str:
    """The reference as course staff get it, comments in ``lang``."""
    return strip_solution_markers(translated_source(assignment, lang))


def text_files(assignment: Assignment, lang: str = DEFAULT_LANG) -> dict[str, str]:
    """The generated text files (name -> content): ``<name>.py`` and ``<name>.ipynb`` (its set-up
    cell carrying nothing: see :mod:`dlgrade.authoring.setup_cell`)."""
    stub = skeleton(assignment, lang)
    return {f"{assignment.module_name}.py": stub,
            f"{assignment.module_name}.ipynb": notebook_text(build_notebook(assignment, stub, lang))}


def checks_file(assignment: Assignment, path: Path, lang: str = DEFAULT_LANG) -> Path:
    """Record the public checks (test names and hints in ``lang``) into ``path``."""
    with tempfile.TemporaryDirectory() as tmp:  # staged: a failed recording leaves ``path`` as it was
        staged = Path(tmp) / path.name
        record_public_checks(assignment, staged, lang)
        path.write_bytes(staged.read_bytes())
    return path


def generate(assignment: Assignment, out_dir: Path | None = None) -> list[Path]:
    """Write the template into ``out_dir`` (default: ``student_template/<name>``)."""
    out_dir = out_dir or assignment.template_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in text_files(assignment).items():
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    written.append(checks_file(assignment, out_dir / assignment.checks_filename))
    return written
