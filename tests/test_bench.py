"""The benchmark runs end to end (speed itself is measured by ``make bench``, never asserted here)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_prints_its_table_and_numbers():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench_grading.py"), "--n", "4", "--otter-runs", "1"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["what", "submissions"]
    assert any(re.match(r"dlgrade grade, batch +4 \(4 graded\)", line) for line in lines), proc.stdout
    assert any(line.startswith("otter run ") for line in lines), proc.stdout
    assert any(line.startswith("otter run, dlgrade's zip") for line in lines), proc.stdout
    numbers = json.loads(lines[-1])
    assert numbers["n"] == 4 and numbers["otter_run_ms"] > 0 and numbers["batch_peak_mib"] > 0
    assert numbers["check_cold_ms"] > 0 and numbers["single_cold_ms"] > 0
    assert numbers["gradescope_path_ms"] > 0 and numbers["gradescope_path_vs_otter"] > 0
    # the floor: the same requests answered and judged in the bench's own process, no worker
    assert any(line.startswith("floor: reference in-process, no worker") for line in lines), proc.stdout
    assert numbers["floor_ms"] > 0 and numbers["floor_cpu_ms"] > 0 and numbers["batch_vs_floor"] > 0
