"""``dlgrade build``: everything a course needs, per assignment, from the repository.

``DIR/<assignment>/student.zip`` (the handout), ``autograder.zip`` (Otter-Grader, for Gradescope
and ``otter run``) and ``solutions.zip`` (course staff). Builds are reproducible: the same sources
give byte-identical zips.
"""
from __future__ import annotations

from pathlib import Path

from dlgrade.build.autograder import build_autograder_zip
from dlgrade.build.solutions import build_solutions_zip
from dlgrade.build.student import build_student_zip
from dlgrade.registry import Assignment


def build(assignment: Assignment, out_dir: Path) -> list[Path]:
    """Write the three zips of ``assignment`` into ``out_dir/<name>/``."""
    target = out_dir / assignment.name
    target.mkdir(parents=True, exist_ok=True)
    return [build_student_zip(assignment, target / "student.zip"),
            build_autograder_zip(assignment, target / "autograder.zip"),
            build_solutions_zip(assignment, target / "solutions.zip")]
