"""Gradescope exports (``dlgrade.batch.exports``) and how ``grade`` names their submissions. No grading."""
from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import dlgrade_cmd

from dlgrade.batch.exports import describe, expand_export, is_export, metadata_path
from dlgrade.batch.run import collect_entries
from dlgrade.errors import UsageError

METADATA = """\
submission_12345:
  :submitters:
  - :name: Kim Minji
    :email: minji@example.edu
    :sid: '2024001'
  :created_at: 2026-10-01 12:00:00.000000000 +09:00
  :score: 0.0
submission_222:
  :submitters:
  - :email: lee@example.edu
    :sid: 2024002
  :created_at: 2026-10-01 13:00:00.000000000 +09:00
submission_333:
  :submitters: []
submission_444:
  :submitters:
  - :name: Park Jisoo
    :email: jisoo@example.edu
  - :name: Choi Yuna
    :email: yuna@example.edu
"""


def make_export(root: Path, metadata: str = METADATA, folders=("submission_12345", "submission_222",
                                                               "submission_333", "submission_444")) -> Path:
    root.mkdir(parents=True)
    (root / "submission_metadata.yml").write_text(metadata)
    for folder in folders:
        (root / folder).mkdir()
        (root / folder / "rnn.py").write_text(f"# {folder}\n")
    return root


def zip_folder(folder: Path, path: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, prefix + file.relative_to(folder).as_posix())
    return path


def test_folder_export_gives_one_submission_per_student_folder(tmp_path):
    export = make_export(tmp_path / "export")
    (export / "__MACOSX").mkdir()
    (export / ".hidden").mkdir()
    (export / "notes.txt").write_text("not a submission\n")
    assert is_export(export)
    subs = expand_export(export, tmp_path / "work")
    assert [(s.folder, s.name, s.email) for s in subs] == [
        ("submission_12345", "Kim Minji", "minji@example.edu"),
        ("submission_222", "lee@example.edu", "lee@example.edu"),  # no name: the email
        ("submission_444", "Park Jisoo & Choi Yuna", "jisoo@example.edu; yuna@example.edu"),  # a group
        ("submission_333", "submission_333", ""),  # nobody: the folder name
    ]
    assert all(s.path == export / s.folder for s in subs)
    assert not (tmp_path / "work").exists()  # a folder is read in place


def test_zip_export_is_extracted(tmp_path):
    archive = zip_folder(make_export(tmp_path / "export"), tmp_path / "export.zip")
    assert is_export(archive)
    subs = expand_export(archive, tmp_path / "work")
    assert len(subs) == 4
    for sub in subs:
        assert sub.path.is_relative_to(tmp_path / "work")
        assert (sub.path / "rnn.py").read_text() == f"# {sub.folder}\n"


def test_export_wrapped_in_one_folder_is_found(tmp_path):
    archive = zip_folder(make_export(tmp_path / "export"), tmp_path / "wrapped.zip", prefix="assignment_7_export/")
    assert metadata_path(archive) == "assignment_7_export/submission_metadata.yml"
    assert [s.name for s in expand_export(archive, tmp_path / "work")][0] == "Kim Minji"


def test_metadata_must_be_at_the_top(tmp_path):
    export = make_export(tmp_path / "export")
    zip_ = tmp_path / "two.zip"  # two top-level folders: neither is a wrapper
    with zipfile.ZipFile(zip_, "w") as zf:
        zf.writestr("a/submission_metadata.yml", METADATA)
        zf.writestr("b/rnn.py", "")
    assert not is_export(zip_)
    deep = tmp_path / "deep"
    (deep / "x" / "y").mkdir(parents=True)
    (deep / "x" / "y" / "submission_metadata.yml").write_text(METADATA)
    assert not is_export(deep)
    assert is_export(export)


@pytest.mark.parametrize("members", [{"rnn.py": "x = 1\n"}, {"sub/rnn.py": "", "notes.yml": "a: 1\n"}])
def test_zip_without_metadata_is_a_plain_submission(tmp_path, members):
    path = tmp_path / "alice.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    assert not is_export(path)
    (entry,) = collect_entries([path], tmp_path / "work")
    assert (entry.name, entry.path, entry.display, entry.email) == ("alice", path, "alice", "")


def test_non_zip_files_are_not_exports(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    source = tmp_path / "rnn.py"
    source.write_text("")
    assert not is_export(bad) and not is_export(source)


def test_malformed_metadata_is_a_one_line_error(tmp_path):
    export = make_export(tmp_path / "export", metadata="submission_1:\n  :submitters: [\n  - oops: {\n")
    with pytest.raises(UsageError) as info:
        expand_export(export, tmp_path / "work")
    message = str(info.value)
    assert "submission_metadata.yml is not valid YAML" in message and "line" in message
    assert "\n" not in message


def test_metadata_that_is_not_a_mapping_is_an_error(tmp_path):
    export = make_export(tmp_path / "export", metadata="- just\n- a list\n")
    with pytest.raises(UsageError, match="should map submission folders"):
        expand_export(export, tmp_path / "work")


def test_odd_metadata_falls_back_to_folder_names(tmp_path):
    metadata = "submission_12345: 7\nsubmission_222:\n  :submitters: not a list\nsubmission_333:\n  - 1\n"
    export = make_export(tmp_path / "export", metadata=metadata, folders=("submission_12345", "submission_222",
                                                                          "submission_333", "submission_9"))
    assert [s.name for s in expand_export(export, tmp_path / "work")] == [
        "submission_12345", "submission_222", "submission_333", "submission_9"]


def test_empty_metadata_file_is_allowed(tmp_path):
    export = make_export(tmp_path / "export", metadata="", folders=("submission_1",))
    assert [s.name for s in expand_export(export, tmp_path / "work")] == ["submission_1"]


def test_export_without_student_folders_is_an_error(tmp_path):
    export = make_export(tmp_path / "export", folders=())
    with pytest.raises(UsageError, match="no submission folders"):
        expand_export(export, tmp_path / "work")


def test_names_lose_control_characters():
    info = {":submitters": [{":name": "Evil\x1b[2J\x07 Name\n", ":email": "e@x.org\r"}]}
    assert describe("submission_1", info) == ("Evil [2J Name", "e@x.org")


def test_zip_members_cannot_escape_the_work_folder(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("submission_metadata.yml", METADATA)
        zf.writestr("submission_12345/rnn.py", "")
        zf.writestr("../../escaped.py", "")
        zf.writestr("/abs/escaped.py", "")
    expand_export(path, tmp_path / "a" / "b" / "work")
    assert not list(tmp_path.rglob("escaped.py")) or all(
        p.is_relative_to(tmp_path / "a" / "b" / "work") for p in tmp_path.rglob("escaped.py"))


def test_entries_are_named_after_students_safely_and_uniquely(tmp_path):
    metadata = """\
s1: {":submitters": [{":name": "Kim Minji", ":email": "a@x.org"}]}
s2: {":submitters": [{":name": "Kim Minji", ":email": "b@x.org"}]}
s3: {":submitters": [{":name": "../../etc/passwd"}]}
s4: {":submitters": [{":name": "김민지"}]}
s5: {":submitters": [{":name": "kim minji"}]}
s6: {":submitters": [{":name": "%s"}]}
""" % ("x" * 300)
    export = make_export(tmp_path / "export", metadata=metadata, folders=("s1", "s2", "s3", "s4", "s5", "s6"))
    single = tmp_path / "Kim_Minji.py"  # an ordinary submission whose stem clashes with a student
    single.write_text("")
    entries = collect_entries([export, single], tmp_path / "work")
    names = [e.name for e in entries]
    assert len({n.casefold() for n in names}) == len(names), names
    assert [e.display for e in entries] == ["../../etc/passwd", "Kim Minji", "Kim Minji", "kim minji",
                                            "x" * 300, "김민지", names[6]]  # a plain file: its unique name
    assert [e.email for e in entries][:3] == ["", "a@x.org", "b@x.org"]
    for name in names:
        assert "/" not in name and not name.startswith(".") and 0 < len(name) <= 60, name
    assert names[1:3] == ["Kim_Minji", "Kim_Minji-2"] and names[5] == "김민지"
    assert names[6] not in names[:6]


def test_malformed_export_is_a_one_line_cli_error(tmp_path):
    export = make_export(tmp_path / "export", metadata="a: [\n")
    archive = zip_folder(export, tmp_path / "export.zip")
    proc = subprocess.run(dlgrade_cmd("grade", "--assignment", "rnn", "--out", str(tmp_path / "out"), str(archive)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("dlgrade: error: ") and "not valid YAML" in proc.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()
