"""Bad input to a command: one line on stderr (``dlgrade: error: ...``), a non-zero exit, never a
traceback; and a reader that goes away (``dlgrade ... | head``) ends the command quietly."""
from __future__ import annotations

import json
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
    ("check-not-code", ["check", "{file}"], 2, "expected a .py or .ipynb file"),
    ("check-a-folder", ["check", "{folder}"], 2, "not a file"),
    ("check-unknown-assignment", ["check", "--assignment", "atention", REFERENCE], 2,
     "unknown assignment 'atention' (one of: rnn, attention"),
    ("check-timeout-not-a-number", ["check", "--timeout", "soon", REFERENCE], 2, "not a number: 'soon'"),
    ("check-timeout-zero", ["check", "--timeout", "0", REFERENCE], 2, "must be a positive number of seconds"),
    ("no-command", [], 2, "the following arguments are required: COMMAND (see dlgrade --help)"),
    ("unknown-command", ["frob"], 2, "invalid choice: 'frob'"),
    ("grade-without-out", ["grade", "--assignment", "rnn", REFERENCE], 2, "required: --out (see dlgrade grade --help)"),
    ("grade-jobs-zero", ["grade", "--assignment", "rnn", "--out", "{file}.d", "--jobs", "0", REFERENCE], 2,
     "must be at least 1"),
    ("build-unknown-lang", ["build", "--out", "{file}.d", "--lang", "fr"], 2, "invalid choice: 'fr'"),
    ("grade-unknown-assignment", ["grade", "--assignment", "atention", "--out", "{file}.d", REFERENCE], 2,
     "unknown assignment"),
]


@pytest.mark.parametrize("args, status, says", [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_one_line_and_a_non_zero_exit(tmp_path: Path, args, status, says):
    existing = tmp_path / "existing"
    existing.write_text("not a folder\n")
    folder = tmp_path / "homework.py"  # a folder named like a file
    folder.mkdir()
    argv = [a.replace("{file}", str(existing)).replace("{folder}", str(folder)) for a in args]
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
    assert (out / "grading.log").exists()
    results = json.loads((out / "rnn" / "results.json").read_text())  # this run's, saying it graded nothing
    assert results["score"] == 0 and "the grading run failed" in results["tests"][0]["output"]


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


def test_check_of_a_file_it_may_not_read_is_one_line(tmp_path, monkeypatch, capsys):
    """``PermissionError`` (what a student gets for a file of another user; root reads everything,
    so the refusal is made here): said before any worker starts."""
    from dlgrade import cli

    homework = tmp_path / "rnn.py"
    homework.write_text("x = 1\n")
    real_open = Path.open

    def refusing_open(self, *args, **kwargs):
        if self == homework:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    assert cli.main(["check", str(homework)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"dlgrade: error: cannot read {homework}: Permission denied"]
