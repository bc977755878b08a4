"""``student.zip``: the handout a student downloads."""
from __future__ import annotations

from pathlib import Path

from dlgrade.build.runtime import STUDENT_MODULES, package_files
from dlgrade.build.zips import write_zip
from dlgrade.errors import UsageError
from dlgrade.generate import text_files
from dlgrade.registry import Assignment

REQUIREMENTS = """\
torch>=2.2,<3
numpy>=1.26
nbformat>=5.9
ipykernel>=6.29
ipython>=8
"""

README = """\
# {title}

Files: `{m}.ipynb` (the notebook), `{m}.py` (the same code as a plain Python file),
`{m}_checks.json` (the public checks), `dlgrade/` (the program that runs them).

## Set up

```
python -m venv .venv && . .venv/bin/activate      # optional, recommended
pip install -r requirements.txt
```

## Do the assignment

Work in **either** the notebook or the `.py` file. Fill in every body that raises
`NotImplementedError` (each has TODO comments that explain the steps). Do not change the given
`__init__` methods, names or signatures.

## Check your work

- In the notebook: run the check cell under each part. It prints `[PASS]`/`[FAIL]` for every
  public check; a failure says what was called, what was expected and what came back, and a
  `Hint:` line when your output matches a well-known mistake.
- In a terminal, in this folder: `python -m dlgrade check {m}.py` (or `{m}.ipynb`). Exit status
  0 means every public check passes.

The graders run more checks than these (other shapes, float64, gradients, inputs left unchanged),
so a passing public check is necessary, not sufficient.

## Submit

Upload `{m}.ipynb` (or `{m}.py`) to Gradescope, as your instructor tells you. Only that file is
graded; keep its name.
"""


def student_members(assignment: Assignment) -> dict[str, bytes | str]:
    """The handout's files under a top-level ``<name>/`` folder."""
    template = assignment.template_dir
    members: dict[str, bytes | str] = {}
    for name, text in text_files(assignment).items():
        committed = template / name
        if not committed.exists() or committed.read_text() != text:
            raise UsageError(f"{committed} is out of date: run `dlgrade generate` first")
        members[name] = text
    checks = template / assignment.checks_filename
    if not checks.exists():
        raise UsageError(f"{checks} is missing: run `dlgrade generate` first")
    members[checks.name] = checks.read_bytes()
    members["requirements.txt"] = REQUIREMENTS
    members["README.md"] = README.format(title=assignment.spec.TITLE, m=assignment.module_name)
    members.update(package_files(STUDENT_MODULES))
    return {f"{assignment.name}/{name}": data for name, data in members.items()}


def build_student_zip(assignment: Assignment, path: Path) -> Path:
    """Write ``student.zip``: notebook, skeleton, public checks, requirements, README, checker."""
    return write_zip(path, student_members(assignment))
