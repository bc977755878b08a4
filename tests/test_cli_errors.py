"""Bad input to a command: one line on stderr (``dlgrade: error: ...``), a non-zero exit, never a
traceback; and a reader that goes away (``dlgrade ... | head``) ends the command quietly."""
from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, dlgrade_cmd

REFERENCE = str(REPO / "solutions" / "rnn.py")

# (id, arguments with {file} for an existing plain file, exit status, what the line says)
BAD_INPUTS = [
    ("grade-out-is-a-file", ["grade", "--assignment", "rnn", "--out", "{file}", REFERENCE], 1, "Not a directory"),
    ("grade-out-inside-a-file", ["grade", "--assignment", "rnn", "--out", "{file}/results", REFERENCE], 1,
     "Not a directory"),
    ("build-out-is-a-file", ["build", "--assignment", "rnn", "--out", "{file}"], 1, "Not a directory"),
    ("build-ko-out-is-a-file", ["build", "--lang", "ko", "--out", "{file}"], 1, "Not a directory"),
    ("demo-out-is-a-file", ["demo", "--out", "{file}"], 1, "Not a directory"),
    ("demo-dist-is-a-file", ["demo", "--out", "{file}.d", "--dist", "{file}"], 1, "Not a directory"),
    ("grade-missing-submission", ["grade", "--assignment", "rnn", "--out", "{file}.d", "{file}.missing.py"], 2,
     "no such file or folder"),
    ("check-missing-file", ["check", "{file}.missing.py"], 2, "no such file"),
    ("grade-unknown-assignment", ["grade", "--assignment", "atention", "--out", "{file}.d", REFERENCE], 2,
     "unknown assignment"),
]


@pytest.mark.parametrize("args, status, says", [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_one_line_and_a_non_zero_exit(tmp_path: Path, args, status, says):
    existing = tmp_path / "existing"
    existing.write_text("not a folder\n")
    argv = [a.replace("{file}", str(existing)) for a in args]
    proc = subprocess.run(dlgrade_cmd(*argv), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert_one_line(proc, status, says)
    assert proc.stdout == "", proc.stdout  # refused before any work (a demo's self-test, a build, grading)
    assert not (tmp_path / "existing.d").exists()  # and nothing made


def assert_one_line(proc: subprocess.CompletedProcess, status: int, says: str) -> None:
    """``proc`` exited ``status`` with one ``dlgrade: error:`` line saying ``says``, and no traceback."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dlgrade: error:")]
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr and len(errors) == 1 and says in errors[0], proc.stderr


def not_a_zip(folder: Path) -> Path:
    path = folder / "alice.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    return path


def truncated_zip(folder: Path) -> Path:
    path = folder / "bob.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("rnn.py", "x = 1\n" * 1000)
    path.write_bytes(path.read_bytes()[:40])  # the central directory is gone
    return path


def empty_zip_named_upper_case(folder: Path) -> Path:
    path = folder / "CHOI.ZIP"
    path.write_bytes(b"")
    return path


# bad inputs that need a file made first: (id, make it in a folder, exit status, what the line says)
MADE_INPUTS = [
    ("grade-not-a-zip", not_a_zip, 2, "alice.zip: not a readable zip file (File is not a zip file)"),
    ("grade-truncated-zip", truncated_zip, 2, "bob.zip: not a readable zip file"),
    ("grade-empty-zip", empty_zip_named_upper_case, 2, "CHOI.ZIP: not a readable zip file"),
]


@pytest.mark.parametrize("make, status, says", [case[1:] for case in MADE_INPUTS], ids=[c[0] for c in MADE_INPUTS])
def test_a_bad_submission_file_is_named_before_any_grading(tmp_path: Path, make, status, says):
    """A zip that cannot be opened is refused for the whole command, naming it, before anything
    is graded (the other submissions included: fix or leave out the file, then grade again)."""
    bad = make(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run(dlgrade_cmd("grade", "--assignment", "rnn", "--out", str(out), REFERENCE, str(bad)),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert_one_line(proc, status, says)
    assert str(bad) in proc.stderr and proc.stdout == "" and not out.exists(), proc.stdout


def test_a_grading_run_that_cannot_start_exits_non_zero_and_says_why(tmp_path: Path):
    """Every grading session fails before grading anything (here pytest refuses an option it is
    given): no submission is graded, so the command fails with one line, not a table of 0/0."""
    env = dict(os.environ, PYTEST_ADDOPTS="--no-such-option-for-dlgrade")
    out = tmp_path / "out"
    proc = subprocess.run(dlgrade_cmd("grade", "--assignment", "rnn", "--out", str(out), REFERENCE),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert_one_line(proc, 1, "no submission could be graded: the grading run failed (pytest exit status 4")
    assert "--no-such-option-for-dlgrade" in proc.stderr and str(out / "grading.log") in proc.stderr
    assert not re.search(r"^submission\s+score\s+passed$", proc.stdout, re.M), proc.stdout  # no table of 0/0
    assert not (out / "report.html").exists() and (out / "grading.log").exists()


def test_a_reader_that_went_away_ends_the_command_quietly():
    """``dlgrade check ... | head -0``: the pipe is closed before the report is written."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(dlgrade_cmd("check", "--assignment", "rnn", REFERENCE), stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert proc.returncode == 141 and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
