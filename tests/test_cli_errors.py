"""Bad input to a command: one line on stderr (``dlgrade: error: ...``), a non-zero exit, never a
traceback; and a reader that goes away (``dlgrade ... | head``) ends the command quietly."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, dlgrade_cmd

REFERENCE = str(REPO / "solutions" / "rnn.py")

# (id, arguments with {file} for an existing plain file, exit status, what the line says)
BAD_INPUTS = [
    ("grade-out-is-a-file", ["grade", "--assignment", "rnn", "--out", "{file}", REFERENCE], 1, "File exists"),
    ("build-out-is-a-file", ["build", "--assignment", "rnn", "--out", "{file}"], 1, "Not a directory"),
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
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dlgrade: error:")]
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr and len(errors) == 1 and says in errors[0], proc.stderr


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
