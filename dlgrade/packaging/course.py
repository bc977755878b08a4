"""``dlgrade build``: everything a course needs, per assignment, from the repository.

``DIR/<assignment>/student.zip`` (the handout), ``autograder.zip`` (Otter-Grader, for Gradescope
and ``otter run``) and ``solutions.zip`` (course staff), in one language: what students read
(handout, check messages, Gradescope feedback) and the staff's solutions. English builds go to
``DIR/<assignment>/``, another language's to ``DIR/<lang>/<assignment>/``: builds in two languages
into the same ``DIR`` stand side by side. Builds are reproducible: the same sources give
byte-identical zips.
"""
from __future__ import annotations

from pathlib import Path

from dlgrade.authoring.registry import Assignment
from dlgrade.judging.i18n import DEFAULT_LANG
from dlgrade.packaging.autograder import build_autograder_zip
from dlgrade.packaging.solutions import build_solutions_zip
from dlgrade.packaging.student import student_members
from dlgrade.packaging.zips import write_zip


def build_folder(assignment: Assignment, out_dir: Path, lang: str = DEFAULT_LANG) -> Path:
    """Where ``assignment``'s zips in ``lang`` go: ``out_dir/<name>/`` in English,
    ``out_dir/<lang>/<name>/`` in another language."""
    return out_dir / assignment.name if lang == DEFAULT_LANG else out_dir / lang / assignment.name


def build(assignment: Assignment, out_dir: Path, lang: str = DEFAULT_LANG) -> list[Path]:
    """Write the three zips of ``assignment``, in ``lang``, into :func:`build_folder`."""
    target = build_folder(assignment, out_dir, lang)
    target.mkdir(parents=True, exist_ok=True)
    handout = student_members(assignment, lang)
    checks = handout[f"{assignment.name}/{assignment.checks_filename}"]
    assert isinstance(checks, bytes)
    return [write_zip(target / "student.zip", handout),
            build_autograder_zip(assignment, target / "autograder.zip", lang),
            build_solutions_zip(assignment, target / "solutions.zip", checks, lang)]
