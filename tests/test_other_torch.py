"""The public checks under another torch than the pinned one: what Colab and Kaggle ship moves on.

The checks file is JSON (tensors as raw bytes, no pickles) and the handout's checker reads it
with whatever torch the student has. This runs the handout's ``python -m dlgrade check`` with the
newest other torch release of the supported range that the package index offers (a venv made
once per machine, about 1.5 minutes and 5.5 GB: a CUDA build, run on the CPU): the reference
passes every check, a catalogued mistake gets its hint. Marked ``other_torch``: ``make compat``
runs it (``.ci/run`` does, after ``make test``), not ``make test``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.handout.checks import load_checks
from dlgrade.packaging.student import student_members

pytestmark = [pytest.mark.other_torch, pytest.mark.slow]

PINNED = torch.__version__.split("+")[0]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dlgrade-tests"


@pytest.fixture(scope="module")
def other_torch_python() -> Path:
    """An interpreter with the newest torch of the supported range other than the pinned one."""
    venv = CACHE / "other-torch"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
        proc = subprocess.run([python, "-m", "pip", "install", "-q", f"torch>{PINNED},<3", "numpy>=1.26"],
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (venv / ".ready").touch()
    return python


def torch_version(python: Path) -> str:
    return subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                          text=True, check=True, timeout=300).stdout.strip()


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> Path:
    """Every assignment's handout, unpacked."""
    root = tmp_path_factory.mktemp("handouts")
    for name in ASSIGNMENTS:
        for member, data in student_members(get_assignment(name)).items():
            path = root / member
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return root


def check(python: Path, folder: Path, source: str, module: str) -> subprocess.CompletedProcess:
    (folder / f"{module}.py").write_text(source)
    return subprocess.run([python, "-m", "dlgrade", "check", f"{module}.py"], cwd=folder, capture_output=True,
                          text=True, timeout=600)


def test_the_other_torch_is_another_release_of_the_range(other_torch_python):
    version = torch_version(other_torch_python).split("+")[0]
    assert version != PINNED and version.startswith("2."), version


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_reference_passes_and_a_mistake_gets_its_hint_with_the_other_torch(name, other_torch_python, handouts):
    assignment = get_assignment(name)
    folder = handouts / name
    passed = check(other_torch_python, folder, assignment.solution_source, assignment.module_name)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    hinted = load_checks(folder / assignment.checks_filename).hints  # the mistakes the public checks tell
    mistake = next(m for m in assignment.mistakes if m.id in hinted)
    failed = check(other_torch_python, folder, ReferenceOracle(assignment).mistake_source(mistake),
                   assignment.module_name)
    assert failed.returncode == 1 and f"    Hint: {mistake.hint}" in failed.stdout.splitlines(), failed.stdout
    assert "Traceback" not in failed.stdout + failed.stderr
