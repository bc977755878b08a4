"""Run the pytest graders of one assignment in a child process (the trusted grading process)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dlgrade.i18n import DEFAULT_LANG
from dlgrade.registry import Assignment


@dataclass(frozen=True)
class Entry:
    """A submission to grade under a unique, filesystem-safe ``name``.

    ``label`` is the row name in the gradebook and the report (a student's name for a Gradescope
    export; empty means ``name``); ``email`` is empty when unknown.
    """

    name: str
    path: Path
    label: str = ""
    email: str = ""

    @property
    def display(self) -> str:
        """The name shown to the instructor."""
        return self.label or self.name


MAX_NAME_CHARS = 60


def safe_name(text: str) -> str:
    """``text`` as a folder name: word characters and ``.@+-`` only, at most 60 characters."""
    base = re.sub(r"[^\w.@+-]+", "_", text).strip("._")[:MAX_NAME_CHARS].rstrip("._")
    return base or "submission"


def submission_name(path: Path) -> str:
    """A safe folder name for a submission: its file stem or folder name."""
    resolved = path.resolve()
    return safe_name(resolved.stem if resolved.is_file() else resolved.name)


def uniquify(bases: list[str]) -> list[str]:
    """``bases`` made unique by suffixing ``-2``, ``-3`` (compared ignoring case, as on macOS)."""
    reserved = {b.casefold() for b in bases}  # a suffixed name must not take another one's own name
    names, used = [], set()
    for base in bases:
        name, n = base, 1
        while name.casefold() in used or (name != base and name.casefold() in reserved):
            n += 1
            name = f"{base}-{n}"
        used.add(name.casefold())
        names.append(name)
    return names


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


def run_graders(assignment: Assignment, entries: list[Entry], results_dir: Path,
                timeout: float | None = None, jobs: int | None = None,
                lang: str = DEFAULT_LANG) -> subprocess.CompletedProcess:
    """Grade ``entries`` in one pytest session with ``jobs`` workers at once (default: the CPU
    count), feedback in ``lang``; results land in ``results_dir/<name>/results.json``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps([{"name": e.name, "path": str(e.path.resolve())} for e in entries]))
        command = pytest_command(assignment, "--dlgrade-manifest", str(manifest),
                                 "--dlgrade-results", str(results_dir.resolve()),
                                 *(["--dlgrade-timeout", str(timeout)] if timeout is not None else []),
                                 *(["--dlgrade-jobs", str(jobs)] if jobs is not None else []),
                                 "--dlgrade-lang", lang)
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp, env=_grader_env(assignment))


def record_public_checks(assignment: Assignment, path: Path, lang: str = DEFAULT_LANG) -> None:
    """Run the public graders against the reference and write the students' checks file, its
    test names and hints in ``lang``."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        proc = subprocess.run(pytest_command(assignment, "--dlgrade-record", str(path.resolve()), "--dlgrade-lang", lang),
                              capture_output=True, text=True, cwd=tmp, env=_grader_env(assignment))
    if proc.returncode != 0:
        raise RuntimeError(f"recording the public checks of {assignment.name} failed:\n{proc.stdout}{proc.stderr}")


def read_results(results_dir: Path, entries: list[Entry]) -> dict[str, dict | None]:
    """Each entry's ``results.json`` (None where the grading run wrote none)."""
    found = {}
    for entry in entries:
        path = results_dir / entry.name / "results.json"
        found[entry.name] = json.loads(path.read_text()) if path.exists() else None
    return found
