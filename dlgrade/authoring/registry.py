"""The assignments this kit knows, and where each one's files live."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

from dlgrade.errors import UsageError

ASSIGNMENTS = ("rnn", "attention", "transformer", "mdn")


def repo_root() -> Path:
    """The folder holding ``assignments/``, ``solutions/`` and ``autograder/``."""
    env = os.environ.get("DLGRADE_ROOT")
    return Path(env) if env else Path(__file__).resolve().parents[2]


def load_module_from_path(path: Path, name: str) -> ModuleType:
    """Import a trusted file under a private module name (not via ``sys.path``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Question:
    """One part of an assignment: the object students implement and the notebook text for it."""

    target: str
    title: str
    instructions: str


@dataclass
class Assignment:
    """An assignment's files: spec, reference, graders, catalogue of mistakes, student template."""

    name: str
    root: Path = field(default_factory=repo_root)

    @property
    def module_name(self) -> str:
        """The module students edit (``rnn`` -> ``rnn.py`` / ``rnn.ipynb``)."""
        return self.name

    @property
    def spec_dir(self) -> Path:
        return self.root / "assignments" / self.name

    @property
    def solution_path(self) -> Path:
        return self.root / "solutions" / f"{self.name}.py"

    @property
    def graders_dir(self) -> Path:
        return self.root / "autograder" / self.name

    @property
    def template_dir(self) -> Path:
        return self.root / "student_template" / self.name

    @cached_property
    def solution_source(self) -> str:
        """The reference's source, ``# GIVEN FROM`` lines expanded (see :mod:`dlgrade.authoring.given`),
        solution markers kept."""
        from dlgrade.authoring.given import expand_given  # trusted side only: not part of the student's checker

        return expand_given(self.solution_path.read_text(),
                            lambda name: Assignment(name, self.root).solution_source)

    @property
    def reference_source(self) -> str:
        """The reference as it runs: :attr:`solution_source` without the solution markers."""
        from dlgrade.authoring.template import strip_solution_markers

        return strip_solution_markers(self.solution_source)

    @property
    def checks_filename(self) -> str:
        return f"{self.name}_checks.json"

    @cached_property
    def spec(self) -> ModuleType:
        """``assignments/<name>/assignment.py``: title, intro, questions, forbidden functions."""
        return load_module_from_path(self.spec_dir / "assignment.py", f"_dlgrade_spec_{self.name}")

    @property
    def questions(self) -> list[Question]:
        return list(self.spec.QUESTIONS)

    @property
    def forbidden(self) -> dict[str, str]:
        """torch function ``__name__`` -> what to call it in feedback."""
        return dict(self.spec.FORBIDDEN)

    @property
    def signatures(self) -> dict:
        """``target -> Signature``: the input forms each target's docstring allows, as factors
        (``FORMS`` in ``assignment.py``; see :mod:`dlgrade.grading.factors`)."""
        return {signature.target: signature for signature in getattr(self.spec, "FORMS", ())}

    @cached_property
    def mistakes(self) -> list:
        """The catalogue in ``assignments/<name>/mistakes.py``."""
        module = load_module_from_path(self.spec_dir / "mistakes.py", f"_dlgrade_mistakes_{self.name}")
        return list(module.MISTAKES)

    @property
    def scenarios_dir(self) -> Path:
        """``tests/scenarios/<name>/``: graded cases, a folder each with a submission and its
        ``expected.json`` (the demo grades them; a test checks each grades as expected)."""
        return self.root / "tests" / "scenarios" / self.name

    @property
    def scenarios(self) -> list[Path]:
        """The case folders under :attr:`scenarios_dir`, sorted (none in a kit without tests)."""
        if not self.scenarios_dir.is_dir():
            return []
        return sorted(p for p in self.scenarios_dir.iterdir() if (p / "expected.json").is_file())


def get_assignment(name: str) -> Assignment:
    """Look an assignment up by name; unknown names are a usage error."""
    if name not in ASSIGNMENTS:
        raise UsageError(f"unknown assignment {name!r} (known: {', '.join(ASSIGNMENTS)})")
    return Assignment(name)
