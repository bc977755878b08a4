"""The container tier's file modes: the grader's places closed to worker uids, a way kept to the
runtime, and the modes back once the last session ends."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dlgrade.supervisor.lockdown import Lockdown, lock_down, restore


def other(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode) & stat.S_IRWXO


@pytest.fixture
def tree(tmp_path):
    """``kit/`` with a runtime to keep (``kit/env/python``) beside secrets, and a shared folder."""
    kit = tmp_path / "kit"
    (kit / "env" / "python").mkdir(parents=True)
    (kit / "env" / "python" / "lib.py").write_text("runtime")
    (kit / "env" / "notes.txt").write_text("beside the runtime")
    (kit / "solutions").mkdir()
    (kit / "solutions" / "rnn.py").write_text("the reference")
    (kit / "README").write_text("top")
    (tmp_path / "shared").mkdir()
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return tmp_path


def test_hidden_places_close_but_keep_a_way_to_the_runtime(tree):
    kit = tree / "kit"
    changes = lock_down([kit, tree / "shared"], [kit / "env" / "python"], shared=[tree / "shared"])
    assert other(kit) == stat.S_IXOTH and other(kit / "env") == stat.S_IXOTH  # traverse, not list
    assert other(kit / "env" / "python") == 0o5 and other(kit / "env" / "python" / "lib.py") == 0o4
    for secret in (kit / "solutions", kit / "README", kit / "env" / "notes.txt"):
        assert other(secret) == 0, secret
    assert other(tree / "shared") == 0o5  # the temporary folders stay shared
    restore(changes)
    assert other(kit) == other(kit / "solutions") == 0o5 and other(kit / "README") == 0o4


def test_the_last_session_out_restores_the_modes(tree):
    kit = tree / "kit"
    state = tree / "state"
    state.mkdir()
    first = Lockdown([kit], [kit / "env" / "python"], state_dir=state)
    second = Lockdown([kit / "solutions"], [], state_dir=state)
    assert first.changed > 0 and second.changed == 0  # already closed by the first
    first.close()
    assert other(kit / "solutions") == 0  # the second still grades
    second.close()
    assert other(kit / "solutions") == 0o5 and other(kit) == 0o5


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as a worker uid")
def test_a_worker_uid_cannot_read_a_closed_place_but_reaches_the_runtime(tree):
    kit = tree / "kit"
    changes = lock_down([kit], [kit / "env" / "python"])
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setgroups([])
                os.setgid(62999)
                os.setuid(62999)
                assert (kit / "env" / "python" / "lib.py").read_text() == "runtime"
                for forbidden in (lambda: (kit / "solutions" / "rnn.py").read_text(), lambda: os.listdir(kit)):
                    try:
                        forbidden()
                        code = 3
                        break
                    except PermissionError:
                        code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        restore(changes)
