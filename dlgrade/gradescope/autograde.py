"""Grade the one submission of a Gradescope-style folder (``/autograder``) with dlgrade.

Gradescope runs our ``run_otter.py`` (:func:`main`), and ``otter run`` reaches the same code
through the Otter plugin (:mod:`dlgrade.gradescope.otter_plugin`). Either way Otter's kernel never
runs and nothing of the submission is imported, executed or unpickled outside dlgrade's worker:
the file to grade is copied into a private folder of the trusted side, graded from there by a
grading session (the hidden graders in a trusted process, the student's code in a confined
worker), and ``results.json`` is written by this process. Imports no Otter and no torch.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from dlgrade.judging.i18n import DEFAULT_LANG

KIT_DIR = "dlgrade_kit"
PLUGIN = "dlgrade.gradescope.otter_plugin.DlgradePlugin"


def kit_root(autograder_dir: str | Path) -> Path:
    """``<autograder>/source/files/dlgrade_kit``: the graders, reference and catalogue."""
    return Path(autograder_dir) / "source" / "files" / KIT_DIR


def plugin_config(otter_config: dict) -> dict:
    """Our plugin's entry of ``otter_config.json`` (``assignment``, ``lang``)."""
    for plugin in otter_config.get("plugins", []):
        if isinstance(plugin, dict) and PLUGIN in plugin:
            return dict(plugin[PLUGIN])
    raise ValueError(f"otter_config.json does not configure {PLUGIN}")


def error_results(message: str) -> dict:
    """A valid results dict for when grading itself could not run."""
    from dlgrade.grading.results import TestResult, gradescope_results

    test = TestResult("autograder", 0.0, 0.0, message, "visible", ran=False)
    return gradescope_results([test], f"The autograder failed; please tell your instructor.\n{message}")


def take_submission(folder: Path, module_name: str, private: Path, chosen: Path | None = None) -> Path:
    """Copy the file to grade (``chosen``, else the one :func:`pick_file` picks in ``folder``)
    into ``private``; the path to grade (a folder holding that copy, or nothing when the
    submission has no such file)."""
    from dlgrade.supervisor.submission import pick_file

    target = private / "submission"
    target.mkdir()
    if chosen is None:
        chosen = pick_file(folder, module_name) if folder.is_dir() else None
    if chosen is not None:
        shutil.copyfile(chosen, target / chosen.name, follow_symlinks=False)
    return target


def grade_folder(submission_dir: Path, config: dict, kit: Path, chosen: Path | None = None) -> dict:
    """``results.json`` for the submission in ``submission_dir`` (its file ``chosen``, when the
    caller knows which); a failed result (never an exception) when grading cannot run, the
    confinement refused included."""
    from dlgrade.authoring.registry import ASSIGNMENTS, Assignment
    from dlgrade.batch.run import grade
    from dlgrade.grading.options import GradingOptions
    from dlgrade.supervisor import tier

    try:
        name = config["assignment"]
        if name not in ASSIGNMENTS:
            raise ValueError(f"unknown assignment {name!r}")
        tier.require_confinement()
        print(f"dlgrade: confinement: {tier.describe()}", flush=True)
        assignment = Assignment(name, root=kit)
        with tempfile.TemporaryDirectory(prefix="dlgrade-otter-") as tmp:
            private = take_submission(submission_dir, assignment.module_name, Path(tmp), chosen)
            results = grade(assignment, [private], Path(tmp) / "results",
                            GradingOptions(lang=config.get("lang", DEFAULT_LANG)))
        (result,) = results.values()
        return result
    except Exception as exc:  # never leave Gradescope without a results file
        return error_results(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")


def main(autograder_dir: str = "/autograder") -> int:
    """Gradescope's entry (our ``run_otter.py``): grade ``<dir>/submission``, write
    ``<dir>/results/results.json``."""
    from dlgrade.grading.results import write_results

    root = Path(autograder_dir)
    try:
        config = plugin_config(json.loads((root / "source" / "otter_config.json").read_text()))
    except (OSError, ValueError) as exc:
        results = error_results(f"cannot read the autograder's configuration: {exc}")
    else:
        results = grade_folder(root / "submission", config, kit_root(root))
    write_results(root / "results" / "results.json", results)
    print(f"Total Score: {results['score']:g} / {results.get('max_score', 0):g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
