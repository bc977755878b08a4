"""The autograder as Gradescope runs it: inside a real Docker container with Docker's defaults.

Root, Docker's default seccomp profile and capabilities, ``--network none``, the environment under
``/root`` (see :mod:`docker_image`). There bubblewrap cannot create namespaces, so dlgrade runs
its container tier. In it: the built ``autograder.zip`` unpacked in ``/autograder/source``, the
student's files in ``/autograder/submission``, ``run_otter.py`` run as Gradescope runs it (the
reference at full marks; the stub beside an ``otter`` package and a pickled ``.OTTER_LOG`` at 0
with none of them run; a detached process gone when it returns), and both adversarial suites.
Skips only when no Docker engine can start here, and says why.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import TIER_RERUN_SELECTION, reference_source
from docker_image import REPO, docker_run, engine_problem, image

pytestmark = pytest.mark.slow

PYTHON = "/root/venv/bin/python"
DAEMON = '''
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import ctypes
        ctypes.CDLL(None).prctl(15, b"dlgrade-daemon", 0, 0, 0)
        while True:
            time.sleep(1)
    os._exit(0)
'''
# what Gradescope does per submission, then what is left running in the container
AFTER = ("{python} /autograder/source/run_otter.py > /autograder/results/stdout.txt 2>&1; sleep 2; "
         "ps -eo pid=,comm= | grep -v -e ' ps$' -e ' sh$' -e ' grep$' > /autograder/results/left.txt; true")


@pytest.fixture(scope="module")
def tag():
    problem = engine_problem()
    if problem:
        pytest.skip(f"no Docker engine: {problem}")
    return image()


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory):
    """The repository as it is (no environment, no git), mounted at its own path in the container."""
    copy = tmp_path_factory.mktemp("repo") / "repo"
    shutil.copytree(REPO, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "dist", "out", "__pycache__", "*.egg-info"))
    return copy


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([str(Path(sys.executable).parent / "dlgrade"), "build", "--assignment", "attention",
                           "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "attention" / "autograder.zip"


def gradescope_run(tag: str, repo: Path, autograder: Path, root: Path, files: dict[str, bytes]) -> tuple[dict, str, str]:
    """results.json, Otter-run output and what was left running, for ``files`` as the submission."""
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    for sub in ("submission", "results"):
        (root / sub).mkdir()
    for name, data in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)
    proc = docker_run(tag, ["sh", "-c", AFTER.format(python=PYTHON)], {repo: str(REPO), root: "/autograder"},
                      timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = (root / "results" / "stdout.txt").read_text()
    results_file = root / "results" / "results.json"
    assert results_file.exists(), output
    return json.loads(results_file.read_text()), output, (root / "results" / "left.txt").read_text()


def test_the_container_runs_the_container_tier(tag, repo_copy):
    proc = docker_run(tag, [PYTHON, "-c", "from dlgrade.supervisor import tier; print(tier.describe())"],
                      {repo_copy: str(REPO)}, workdir=str(REPO), timeout=120)
    assert proc.stdout.startswith("tier container (no namespaces)"), proc.stdout + proc.stderr


def test_gradescope_run_gives_the_reference_full_marks(tag, repo_copy, autograder_zip, tmp_path):
    results, output, left = gradescope_run(tag, repo_copy, autograder_zip, tmp_path / "autograder",
                                           {"attention.py": reference_source("attention").encode()})
    assert output.startswith("dlgrade: confinement: tier container"), output
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0, results
    assert results["extra_data"]["dlgrade_confinement"]["tier"] == "container"
    assert not left.strip(), f"left running after run_otter.py: {left}"


def test_gradescope_run_runs_nothing_of_an_otter_package_or_log(tag, repo_copy, autograder_zip, tmp_path):
    from test_build import otter_kernel_bait

    marks = tmp_path / "autograder" / "results"
    bait = otter_kernel_bait(Path("/autograder/results"))
    results, output, left = gradescope_run(tag, repo_copy, autograder_zip, tmp_path / "autograder", bait)
    assert results["score"] == 0 and len(results["tests"]) > 1, output
    assert not (marks / "kernel-ran").exists() and not (marks / "log-unpickled").exists()
    assert not left.strip(), left


def test_gradescope_run_leaves_no_detached_process(tag, repo_copy, autograder_zip, tmp_path):
    source = reference_source("attention") + DAEMON
    results, output, left = gradescope_run(tag, repo_copy, autograder_zip, tmp_path / "autograder",
                                           {"attention.py": source.encode()})
    assert results["tests"], output
    assert "dlgrade-daemon" not in left and not left.strip(), f"left running after run_otter.py: {left}"


def test_both_adversarial_suites_hold_inside_docker(tag, repo_copy):
    proc = docker_run(tag, [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TIER_RERUN_SELECTION,
                            "tests/test_adversarial.py", "tests/test_adversarial_assignments.py"],
                      {repo_copy: str(REPO)}, workdir=str(REPO))
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in last and "skipped" not in last, proc.stdout[-3000:]
