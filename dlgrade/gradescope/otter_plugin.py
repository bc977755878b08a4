"""Otter-Grader plugin: grade with dlgrade's isolated graders instead of in Otter's kernel.

Otter runs a submission's code and its tests together in one Jupyter kernel. This plugin keeps
the student's code out of that kernel (``before_execution`` hands Otter an empty notebook) and,
in ``after_grading``, grades a private copy of the submission with dlgrade: the hidden pytest
graders in a trusted process, the student's code in a separate worker. Its ``results.json`` --
one entry per test, with its points and visibility -- replaces Otter's.

Configured in ``otter_config.json`` as
``"plugins": [{"dlgrade.gradescope.otter_plugin.DlgradePlugin": {"assignment": "rnn", "lang": "en"}}]``
(``lang``: the language of the feedback students read); the graders, reference, catalogue and
translations travel in the autograder zip under ``files/dlgrade_kit``.
"""
from __future__ import annotations

import shutil
import tempfile
import traceback
from pathlib import Path
from typing import Any

import nbformat
from otter.plugins import AbstractOtterPlugin

from dlgrade.gradescope import otter_adapter
from dlgrade.judging.i18n import DEFAULT_LANG

KIT_DIR = "dlgrade_kit"


def kit_root(submission_path: str | Path) -> Path:
    """``<autograder>/source/files/dlgrade_kit`` for a submission at ``<autograder>/submission/x``."""
    return Path(submission_path).resolve().parents[1] / "source" / "files" / KIT_DIR


def grade_copy(submission_path: str | Path, assignment_name: str, kit: Path, lang: str = DEFAULT_LANG) -> dict:
    """Grade a private copy of the submission with dlgrade, feedback in ``lang``."""
    from dlgrade.authoring.registry import ASSIGNMENTS, Assignment
    from dlgrade.batch.run import grade
    from dlgrade.grading.options import GradingOptions

    if assignment_name not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {assignment_name!r}")
    assignment = Assignment(assignment_name, root=kit)
    with tempfile.TemporaryDirectory(prefix="dlgrade-otter-") as tmp:
        private = Path(tmp) / "submission"
        private.mkdir()
        source = Path(submission_path)
        shutil.copy(source, private / source.name)
        results = grade(assignment, [private / source.name], Path(tmp) / "results", GradingOptions(lang=lang))
    (result,) = results.values()
    return result


def error_results(message: str) -> dict:
    """A valid results dict for when grading itself could not run."""
    from dlgrade.grading.results import TestResult, gradescope_results

    test = TestResult("autograder", 0.0, 0.0, message, "visible", ran=False)
    return gradescope_results([test], f"The autograder failed; please tell your instructor.\n{message}")


class DlgradePlugin(AbstractOtterPlugin):
    """Grades submissions with dlgrade's graders (see the module docstring)."""

    def before_execution(self, submission: nbformat.NotebookNode) -> nbformat.NotebookNode:
        """Keep the student's code out of Otter's kernel: Otter executes an empty notebook."""
        return nbformat.v4.new_notebook()

    def after_grading(self, results: Any) -> None:
        """Grade with dlgrade and make Otter write dlgrade's ``results.json``."""
        try:
            otter_adapter.require_supported_otter()
            ours = grade_copy(self.submission_path, self.plugin_config["assignment"],
                              kit_root(self.submission_path), self.plugin_config.get("lang", DEFAULT_LANG))
        except Exception as exc:  # never leave Gradescope without a results file
            ours = error_results(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
        otter_adapter.use_results(results, ours)
