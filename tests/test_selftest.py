"""`dlgrade selftest`: the reference scores 100%, stubs 0, every catalogued mistake loses points."""
import os
import re
import shutil
import subprocess

import pytest
from conftest import REPO, dlgrade_cmd

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment

pytestmark = pytest.mark.slow


def test_selftest_passes_for_every_assignment():
    proc = subprocess.run(dlgrade_cmd("selftest"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    rows = 0
    for name in ASSIGNMENTS:
        assignment = get_assignment(name)
        assert len(assignment.mistakes) >= 8
        assert any(re.match(rf"{name}\s+reference\s", line) and line.endswith(" ok") for line in lines)
        assert any(re.match(rf"{name}\s+stub\s", line) and " 0/" in line and line.endswith(" ok") for line in lines)
        for mistake in assignment.mistakes:
            assert any(f"mistake:{mistake.id} " in line and line.endswith(" ok") for line in lines), mistake.id
        rows += 2 + len(assignment.mistakes)
    assert f"{rows} of {rows} rows as expected." in proc.stdout


def test_selftest_fails_when_a_catalogued_mistake_is_not_caught(tmp_path):
    """A 'mistake' that changes nothing must make the self-test fail (the self-test can fail)."""
    root = tmp_path / "repo"
    for folder in ("assignments", "solutions", "autograder"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "assignments" / "rnn" / "mistakes.py").write_text(
        "from dlgrade.authoring.mistakes import Mistake\n"
        "MISTAKES = [Mistake('harmless', 'not really a mistake',\n"
        "                    (('outputs = []', 'outputs = list()'),))]\n")
    env = dict(os.environ, DLGRADE_ROOT=str(root))
    proc = subprocess.run(dlgrade_cmd("selftest", "--assignment", "rnn"), capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "mistake:harmless" in proc.stdout and "WRONG its hint was not shown" in proc.stdout
    assert "2 of 3 rows as expected." in proc.stdout
