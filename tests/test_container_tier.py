"""Both adversarial suites again, in the container tier: under an emulation of Docker's default
profile on this host (``tests/container_emulation.py``: seccomp refuses namespaces and mounts, the
capability bounding set is Docker's), so the tier is covered even where no Docker engine starts.
The real container is ``tests/test_docker.py``. Both re-runs take one assignment's hostile
submissions (``conftest.TIER_RERUN_SELECTION``); the host run takes every assignment's."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TIER_RERUN_SELECTION

REPO = Path(__file__).resolve().parents[1]
EMULATION = [sys.executable, str(REPO / "tests" / "container_emulation.py")]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the container tier is root's (as Gradescope runs it)"),
]


def test_the_emulation_makes_bubblewrap_fail_and_dlgrade_choose_the_container_tier():
    probe = subprocess.run([*EMULATION, "bwrap", "--ro-bind", "/", "/", "--unshare-pid", "true"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "Operation not permitted" in probe.stderr, probe.stderr
    tier = subprocess.run([*EMULATION, sys.executable, "-c", "from dlgrade.supervisor import tier; print(tier.describe())"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert tier.stdout.startswith("tier container (no namespaces)"), tier.stdout + tier.stderr


def test_both_adversarial_suites_hold_in_the_container_tier():
    proc = subprocess.run([*EMULATION, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *TIER_RERUN_SELECTION, "tests/test_adversarial.py", "tests/test_adversarial_assignments.py"],
                          capture_output=True, text=True, timeout=1200, cwd=REPO)
    tail = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout.splitlines()[-1] and "skipped" not in proc.stdout.splitlines()[-1], tail
