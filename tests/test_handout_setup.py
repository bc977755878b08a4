"""The handout's set-up: ``pip install -r requirements.txt`` keeps the torch a student has, asks
for PyTorch's CPU build otherwise, and the README and the notebook say how to get torch and open
the notebook."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import nbformat
import pytest
import torch
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import REPO
from dlgrade.authoring.registry import get_assignment
from dlgrade.packaging.student import student_members

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@pytest.fixture(scope="module")
def handout() -> dict[str, str]:
    """The rnn handout's text files, by name."""
    members = student_members(get_assignment("rnn"))
    return {name.split("/", 1)[1]: data if isinstance(data, str) else data.decode("utf-8", "replace")
            for name, data in members.items() if not name.endswith(".json")}


def requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_install_nothing_where_a_torch_of_the_range_is_installed(handout, tmp_path):
    """pip resolves the handout's requirements in this environment (torch 2.13.0 installed, no
    index at all) without installing anything: an installed torch is kept, never replaced."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(handout["requirements.txt"])
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet",
                           "--report", str(report), "-r", str(requirements)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(report.read_text())["install"] == []


def test_requirements_take_the_cpu_build_and_the_declared_torch_range(handout):
    lines = requirement_lines(handout["requirements.txt"])
    assert f"--extra-index-url {CPU_INDEX}" in lines  # without a torch: the CPU build, not PyPI's CUDA one
    [torch_line] = [line for line in lines if line.startswith("torch")]
    wanted = Requirement(torch_line).specifier
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    [project_torch] = [Requirement(d) for d in declared if Requirement(d).name == "torch"]
    assert wanted == project_torch.specifier
    assert Version(torch.__version__.split("+")[0]) in wanted


def test_the_readme_and_the_notebook_say_how_to_set_up(handout):
    readme = handout["README.md"]
    assert "pip install -r requirements.txt" in readme and "CPU build" in readme
    assert "jupyterlab" in readme and "python -m dlgrade check rnn.py" in readme
    assert "gradients" in readme and "leading dimensions" in readme  # what the hidden graders add
    nb = nbformat.reads(handout["rnn.ipynb"], as_version=4)
    first = nb.cells[0].source
    assert "CPU build" in first and "pip install -r requirements.txt" in first and "jupyterlab" in first
