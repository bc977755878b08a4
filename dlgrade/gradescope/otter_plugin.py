"""Otter-Grader plugin: ``otter run -a autograder.zip`` grades with dlgrade; Otter's kernel never runs.

Otter runs a submission's code and its tests together in one Jupyter kernel, whose first cell
imports ``otter`` from the submission's folder, and then unpickles what that kernel wrote; it also
unpickles a ``.OTTER_LOG`` found there. So in ``before_grading``, the first event of a run and
before any of that, this plugin takes the file to grade into a private folder, empties the
submission folder, grades the copy with dlgrade (:func:`dlgrade.gradescope.autograde.grade_folder`)
and tells Otter not to start its kernel (:func:`dlgrade.gradescope.otter_adapter.skip_kernel`);
dlgrade's ``results.json`` replaces Otter's. Should the kernel run anyway, ``before_execution``
hands it an empty notebook. On Gradescope our ``run_otter.py`` calls dlgrade directly and Otter is
not involved at all (:func:`dlgrade.gradescope.autograde.main`).

Configured in ``otter_config.json`` as
``"plugins": [{"dlgrade.gradescope.otter_plugin.DlgradePlugin": {"assignment": "rnn", "lang": "en"}}]``
(``lang``: the language of the feedback students read); the graders, reference, catalogue and
translations travel in the autograder zip under ``files/dlgrade_kit``.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
from otter.plugins import AbstractOtterPlugin

from dlgrade.gradescope import otter_adapter
from dlgrade.gradescope.autograde import KIT_DIR, error_results, grade_folder, kit_root

__all__ = ["KIT_DIR", "DlgradePlugin", "empty_folder"]


def empty_folder(folder: Path) -> None:
    """Remove everything in ``folder`` (links as links), so Otter's process reads nothing of it."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


class DlgradePlugin(AbstractOtterPlugin):
    """Grades submissions with dlgrade's graders (see the module docstring)."""

    results: dict | None = None

    def before_grading(self, ag_config: Any) -> None:
        """Grade a private copy of the submission; then nothing of it is left for Otter."""
        # the file Otter resolved, not one picked from its folder: Otter has copied the zip's
        # files/ there, the kit and its reference solution included
        submission = Path(self.submission_path)
        folder = submission.resolve().parent
        try:
            otter_adapter.require_supported_otter()
            self.results = grade_folder(folder, self.plugin_config, kit_root(folder.parent),
                                        chosen=folder / submission.name)
        except Exception as exc:  # never leave Gradescope without a results file
            self.results = error_results(f"{type(exc).__name__}: {exc}")
        finally:
            empty_folder(folder)
        try:
            otter_adapter.skip_kernel(self.results)
        except otter_adapter.UnsupportedOtter as exc:  # its kernel runs, on an empty folder and notebook
            print(f"dlgrade: {exc}", flush=True)

    def before_execution(self, submission: nbformat.NotebookNode) -> nbformat.NotebookNode:
        """Keep the student's code out of Otter's kernel, should it run: it executes an empty notebook."""
        return nbformat.v4.new_notebook()

    def after_grading(self, results: Any) -> None:
        """Make Otter write dlgrade's ``results.json`` (when its kernel ran after all)."""
        try:
            otter_adapter.use_results(results, self.results or error_results("the submission was not graded"))
        except otter_adapter.UnsupportedOtter as exc:  # Otter writes its own results: of nothing, 0
            print(f"dlgrade: {exc}", flush=True)
