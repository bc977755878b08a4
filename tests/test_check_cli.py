"""``dlgrade check``: the students' command, run as they run it (a subprocess).

It runs the public checks recorded in ``<a>_checks.json`` on a ``.py`` or ``.ipynb`` in a worker
process and prints ``[PASS]/[FAIL] <name> (N pt)`` lines, feedback and a summary line; exit 0 iff
every check passes, 1 otherwise, and 2 with a single ``dlgrade: error: ...`` line on stderr (no
traceback) for usage errors. It must not need the reference solution or the repository.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import fill_notebook

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.handout.checks import load_checks

SUMMARY = re.compile(r"^(\d+) of (\d+) public checks passed\.$")
RESULT = re.compile(r"^\[(PASS|FAIL)\] .+ \(\d+(\.\d+)? pt\)$")


def run_check(*args: str | Path, cwd: Path, root: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m dlgrade check ARGS`` in ``cwd``; ``root`` overrides where dlgrade looks for
    the repository (``DLGRADE_ROOT``), to show a run does not depend on it."""
    env = dict(os.environ)
    if root is not None:
        env["DLGRADE_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "dlgrade", "check", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def parse_report(stdout: str) -> tuple[list[str], tuple[int, int]]:
    """The ``PASS``/``FAIL`` marks in order and the ``(passed, total)`` of the summary line."""
    lines = stdout.rstrip("\n").splitlines()
    summary = SUMMARY.match(lines[-1]) if lines else None
    assert summary, f"no summary line at the end of:\n{stdout}"
    marks = [m.group(1) for m in map(RESULT.match, lines) if m]
    assert len(marks) == int(summary.group(2)), stdout
    return marks, (int(summary.group(1)), int(summary.group(2)))


def n_public_checks(assignment) -> int:
    return len(load_checks(assignment.template_dir / assignment.checks_filename).tests)


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def assert_usage_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlgrade: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr


def handout(assignment, tmp_path: Path) -> Path:
    """A copy of ``student_template/<a>/`` (stub, notebook, checks file) outside the repository."""
    folder = tmp_path / "handout" / assignment.name
    shutil.copytree(assignment.template_dir, folder)
    return folder


def reference_source(assignment) -> str:
    return assignment.reference_source


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request):
    return get_assignment(request.param)


@pytest.fixture
def empty_root(tmp_path: Path) -> Path:
    """A ``DLGRADE_ROOT`` with no solutions/, autograder/ or student_template/ in it."""
    root = tmp_path / "no-repo"
    root.mkdir()
    return root


# -- checks that run ----------------------------------------------------------------------------

def test_stub_fails_every_check(assignment, tmp_path):
    folder = handout(assignment, tmp_path)
    proc = run_check(f"{assignment.module_name}.py", cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    marks, (passed, total) = parse_report(proc.stdout)
    assert passed == 0 and total == n_public_checks(assignment) > 0
    assert set(marks) == {"FAIL"}
    assert "NotImplementedError: TODO: implement" in proc.stdout
    assert proc.stdout.rstrip().endswith(f"0 of {total} public checks passed.")


def test_reference_passes_every_check(assignment, tmp_path, empty_root):
    folder = handout(assignment, tmp_path)
    target = folder / f"{assignment.module_name}.py"
    target.write_text(assignment.solution_source)  # GIVEN FROM lines expanded, as students get them
    proc = run_check(target, cwd=tmp_path, root=empty_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    marks, (passed, total) = parse_report(proc.stdout)
    assert set(marks) == {"PASS"} and passed == total == n_public_checks(assignment)
    assert "Hint:" not in proc.stdout


def test_filled_notebook_passes_every_check(assignment, tmp_path):
    folder = handout(assignment, tmp_path)
    notebook = folder / f"{assignment.module_name}.ipynb"
    nb = nbformat.read(assignment.template_dir / notebook.name, as_version=4)
    notebook.write_text(nbformat.writes(fill_notebook(nb, assignment, reference_source(assignment))))
    proc = run_check(notebook.name, cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    marks, (passed, total) = parse_report(proc.stdout)
    assert set(marks) == {"PASS"} and passed == total == n_public_checks(assignment)


@pytest.mark.parametrize("name, mistake_id, target", [
    ("rnn", "lstm_gate_order_ifog", "LSTMCell"),
    ("attention", "no_scaling", "scaled_dot_product_attention"),
    ("transformer", "norms_swapped", "EncoderLayer"),
])
def test_catalogued_mistake_gets_its_hint(name, mistake_id, target, tmp_path):
    assignment = get_assignment(name)
    mistake = next(m for m in assignment.mistakes if m.id == mistake_id)
    folder = handout(assignment, tmp_path)
    (folder / f"{assignment.module_name}.py").write_text(ReferenceOracle(assignment).mistake_source(mistake))
    proc = run_check(f"{assignment.module_name}.py", cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    marks, (passed, total) = parse_report(proc.stdout)
    assert "FAIL" in marks and "PASS" in marks
    assert f"    Hint: {mistake.hint}" in proc.stdout.splitlines(), proc.stdout
    assert f"[{target}]" in proc.stdout or target in proc.stdout


def test_syntax_error_is_reported_once_first_with_its_line(tmp_path):
    """A file that does not load: what went wrong, once, with its line, before any check."""
    assignment = get_assignment("rnn")
    folder = handout(assignment, tmp_path)
    source = reference_source(assignment).replace("def forward(", "def forward(:", 1)
    (folder / "rnn.py").write_text(source)
    broken = next(i for i, line in enumerate(source.splitlines(), 1) if "def forward(:" in line)
    proc = run_check("rnn.py", cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    lines = proc.stdout.splitlines()
    first_check = next(i for i, line in enumerate(lines) if RESULT.match(line))
    said = [i for i, line in enumerate(lines) if "SyntaxError" in line]
    assert len(said) == 1 and said[0] < first_check, proc.stdout
    assert f"(line {broken}: def forward(:" in lines[said[0]], lines[said[0]]
    marks, (passed, total) = parse_report(proc.stdout)
    assert passed == 0 and set(marks) == {"FAIL"}
    assert "LSTMCell is not defined in your code" in proc.stdout


def test_a_call_that_never_returns_times_out_and_says_which(tmp_path):
    """``--timeout``: the call that loops is named (the check's ``Called:`` line), each result is
    printed as soon as it is known, and the later calls of the same function are not made."""
    assignment = get_assignment("attention")
    folder = handout(assignment, tmp_path)
    source = reference_source(assignment)
    docstring = source.index('"""', source.index("def scaled_dot_product_attention"))
    body = source.index("\n", source.index('"""', docstring + 3)) + 1  # the line after the docstring
    (folder / "attention.py").write_text(source[:body] + "    while True:\n        pass\n" + source[body:])
    proc = subprocess.Popen([sys.executable, "-m", "dlgrade", "check", "attention.py", "--timeout", "2"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamped = [(time.monotonic(), line) for line in proc.stdout]
    proc.wait(timeout=300)
    ended = time.monotonic()
    out = "".join(line for _, line in stamped)
    assert proc.returncode == 1, out + proc.stderr.read()
    marks, (passed, total) = parse_report(out)
    first_result = next(t for t, line in stamped if RESULT.match(line.rstrip("\n")))
    assert ended - first_result > 1.5, "the results came all at once, at the end"  # two calls time out, 2 s each
    blocks = out.split("\n[")
    timed_out = [b for b in blocks if "timed out after 2 s" in b]
    assert timed_out and all("Called: " in b for b in timed_out), out
    assert "Called: scaled_dot_product_attention(" in timed_out[0] or "MultiHeadedAttention(" in timed_out[0], out
    assert out.count("timed out after 2 s") == 2, out  # one per function: the rest are not run
    assert "not run: an earlier call of scaled_dot_product_attention timed out" in out, out


# -- where the checks file comes from -----------------------------------------------------------

def test_works_outside_the_repository_without_the_reference(tmp_path, empty_root):
    """Only the stub and the checks file, in a folder of their own, with no repository around."""
    assignment = get_assignment("rnn")
    folder = tmp_path / "student"
    folder.mkdir()
    for name in (f"{assignment.module_name}.py", assignment.checks_filename):
        shutil.copyfile(assignment.template_dir / name, folder / name)
    proc = run_check(f"{assignment.module_name}.py", cwd=folder, root=empty_root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    marks, (passed, total) = parse_report(proc.stdout)
    assert passed == 0 and total == n_public_checks(assignment) and set(marks) == {"FAIL"}


def test_explicit_checks_file_and_assignment(tmp_path):
    assignment = get_assignment("rnn")
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copyfile(assignment.solution_path, folder / "my_homework.py")
    checks = tmp_path / "elsewhere.json"
    shutil.copyfile(assignment.template_dir / assignment.checks_filename, checks)
    proc = run_check("my_homework.py", "--assignment", "rnn", "--checks", checks, cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    marks, (passed, total) = parse_report(proc.stdout)
    assert passed == total == n_public_checks(assignment)


def test_falls_back_to_the_repository_checks_file(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copyfile(get_assignment("rnn").solution_path, folder / "rnn.py")
    proc = run_check("rnn.py", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    parse_report(proc.stdout)


def test_no_checks_file_anywhere_is_a_usage_error(tmp_path, empty_root):
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copyfile(get_assignment("rnn").template_dir / "rnn.py", folder / "rnn.py")
    assert_usage_error(run_check("rnn.py", cwd=folder, root=empty_root), "rnn_checks.json")


# -- usage errors -------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    assert_usage_error(run_check("nope.py", cwd=tmp_path), "nope.py")


def test_wrong_suffix(tmp_path):
    (tmp_path / "rnn.txt").write_text("print('hello')\n")
    assert_usage_error(run_check("rnn.txt", cwd=tmp_path), "rnn.txt", ".py or .ipynb")


def test_unknown_assignment_in_a_handout_says_so(tmp_path):
    folder = handout(get_assignment("attention"), tmp_path)
    assert_usage_error(run_check("attention.py", "--assignment", "atention", cwd=folder),
                       "unknown assignment 'atention'", "attention")


def test_a_file_named_otherwise_is_told_its_assignment(tmp_path, empty_root):
    folder = handout(get_assignment("attention"), tmp_path)
    shutil.copyfile(folder / "attention.py", folder / "my_attention.py")
    assert_usage_error(run_check("my_attention.py", cwd=folder, root=empty_root), "--assignment attention")


def test_unknown_assignment_without_checks_file(tmp_path):
    (tmp_path / "homework.py").write_text("x = 1\n")
    assert_usage_error(run_check("homework.py", cwd=tmp_path), "--assignment")


def test_missing_checks_file(tmp_path):
    shutil.copyfile(get_assignment("rnn").template_dir / "rnn.py", tmp_path / "rnn.py")
    assert_usage_error(run_check("rnn.py", "--checks", "missing.json", cwd=tmp_path), "missing.json")


def _corrupt_checks(kind: str, good: str) -> bytes:
    if kind == "truncated":
        return good[: len(good) // 2].encode()
    if kind == "not-json":
        return b"this is not json\n"
    if kind == "not-utf8":
        return b"\xff\xfe\x00garbage"
    if kind == "bad-tensor":  # a blob that is not a .npy file
        data = json.loads(good)
        data["tests"]["blobs"][0] = base64.b64encode(b"not a tensor").decode("ascii")
        return json.dumps(data).encode()
    if kind == "json-list":
        return b"[]\n"
    if kind == "tests-not-encoded":
        return b'{"assignment": "rnn", "forbidden": {}, "format": 1, "tests": []}\n'
    if kind == "no-assignment":
        return b'{"format": 1, "tests": {"value": [], "blobs": []}}\n'
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "truncated", "not-json", "not-utf8", "bad-tensor", "json-list", "tests-not-encoded", "no-assignment",
])
def test_corrupt_checks_file(kind, tmp_path):
    assignment = get_assignment("rnn")
    shutil.copyfile(assignment.template_dir / "rnn.py", tmp_path / "rnn.py")
    good = (assignment.template_dir / assignment.checks_filename).read_text()
    (tmp_path / "corrupt.json").write_bytes(_corrupt_checks(kind, good))
    assert_usage_error(run_check("rnn.py", "--checks", "corrupt.json", cwd=tmp_path),
                       "corrupt.json is not a valid checks file")


def test_checks_file_without_checks_is_an_error(tmp_path):
    """A checks file with no checks must not report that everything passed."""
    shutil.copyfile(get_assignment("rnn").template_dir / "rnn.py", tmp_path / "rnn.py")
    (tmp_path / "empty.json").write_text('{"assignment": "rnn", "format": 1, "tests": {"value": [], "blobs": []}}')
    assert_usage_error(run_check("rnn.py", "--checks", "empty.json", cwd=tmp_path), "holds no checks")


def test_checks_path_is_a_directory(tmp_path):
    shutil.copyfile(get_assignment("rnn").template_dir / "rnn.py", tmp_path / "rnn.py")
    (tmp_path / "checks").mkdir()
    assert_usage_error(run_check("rnn.py", "--checks", "checks", cwd=tmp_path), "checks")


@pytest.mark.parametrize("content", [
    pytest.param(b"this is not a notebook\n", id="not-json"),
    pytest.param(b"{}\n", id="json-not-notebook"),
    pytest.param(b'{"cells": [{"cell_type": "code", "source": ', id="truncated"),
])
def test_malformed_notebook(content, tmp_path):
    folder = handout(get_assignment("rnn"), tmp_path)
    (folder / "rnn.ipynb").write_bytes(content)
    assert_usage_error(run_check("rnn.ipynb", cwd=folder), "rnn.ipynb is not a valid notebook")
