"""Run the pytest graders of one assignment in a child process (the trusted grading process)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Protocol
from pathlib import Path

from dlgrade.authoring.registry import Assignment
from dlgrade.grading.options import GradingOptions
from dlgrade.judging.i18n import DEFAULT_LANG


class ToGrade(Protocol):
    """A submission to grade: a unique, filesystem-safe ``name`` (its results folder) and its path."""

    name: str
    path: Path


def _grader_env(assignment: Assignment) -> dict[str, str]:
    """The child's environment: it finds the assignment's files where ``assignment`` does, and
    loads no pytest plugins but dlgrade's (scanning the installed packages for them is slow)."""
    return dict(os.environ, DLGRADE_ROOT=str(assignment.root), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")


# pytest's plugins that cost time per test and do nothing for graders: they never print, log or
# start threads (student code runs in workers), and the cache would be written into the graders
PYTEST_PLUGINS_OFF = ("cacheprovider", "logging", "unraisableexception", "threadexception")


def pytest_command(assignment: Assignment, *options: str) -> list[str]:
    """The command line that runs the assignment's graders with the dlgrade plugin."""
    plugins = [arg for name in PYTEST_PLUGINS_OFF for arg in ("-p", f"no:{name}")]
    return [sys.executable, "-m", "pytest", str(assignment.graders_dir), "-p", "dlgrade.grading.plugin",
            *plugins, "--capture=no", "--import-mode=importlib", "-q", "--no-header",
            "--rootdir", str(assignment.graders_dir), "--dlgrade-assignment", assignment.name, *options]


def run_graders(assignment: Assignment, entries: list[ToGrade], results_dir: Path,
                options: GradingOptions | None = None) -> subprocess.CompletedProcess:
    """Grade ``entries`` in one pytest session as ``options`` say (``options.jobs`` workers at
    once, feedback in ``options.lang``); results land in ``results_dir/<name>/results.json``."""
    options = options or GradingOptions()
    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps([{"name": e.name, "path": str(e.path.resolve())} for e in entries]))
        command = pytest_command(assignment, "--dlgrade-manifest", str(manifest),
                                 "--dlgrade-results", str(results_dir.resolve()), *options.pytest_args())
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp, env=_grader_env(assignment))


def record_public_checks(assignment: Assignment, path: Path, lang: str = DEFAULT_LANG,
                         everything: bool = False) -> None:
    """Run the public graders (``everything``: all of them, the hidden ones too) against the
    reference and write what they checked, with the catalogued mistakes' answers, as a checks
    file (the students' when public only), its test names and hints in ``lang``."""
    options = ["--dlgrade-record", str(path.resolve()), "--dlgrade-lang", lang]
    if everything:
        options.append("--dlgrade-record-all")
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        proc = subprocess.run(pytest_command(assignment, *options),
                              capture_output=True, text=True, cwd=tmp, env=_grader_env(assignment))
    if proc.returncode != 0:
        raise RuntimeError(f"recording the checks of {assignment.name} failed:\n{proc.stdout}{proc.stderr}")
