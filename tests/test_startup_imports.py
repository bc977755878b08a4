"""What the grading session and the command line import before their work starts: no torch.

A grading session starts its zygote (which imports torch, ~1.5 s on 2 CPUs) when pytest loads the
plugin, and imports torch itself while collecting the graders, so the two imports run side by
side; a plugin that imported torch would make them run one after the other. The same for the
command line: ``dlgrade grade`` itself never needs torch before its grading sessions start.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

CASES = {
    "the grading plugin": "import dlgrade.grading.plugin",
    "the command line's parser": "import dlgrade.cli; dlgrade.cli.build_parser()",
    "the supervisor's policy, tier, launcher and forkserver": (
        "import dlgrade.supervisor.policy, dlgrade.supervisor.tier, dlgrade.supervisor.launcher, "
        "dlgrade.supervisor.forkserver"),
}


@pytest.mark.parametrize("what", list(CASES))
def test_imports_no_torch(what):
    code = f"import sys\n{CASES[what]}\nprint(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"{what} imports {proc.stdout.strip()}"
