"""The sandbox policy is data: every tier translates it, and the README's table is written from it."""
from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from dlgrade.supervisor import bwrap, policy, security
from dlgrade.supervisor.policy import POLICY, Limits, Mode, Namespace, Place, Policy, Scratch
from dlgrade.worker.confinement import Rules

REPO = Path(__file__).resolve().parents[1]
TABLE = re.compile(r"<!-- confinement table:[^\n]*-->\n(.*?)\n<!-- end of the confinement table -->", re.S)


def test_the_readme_confinement_table_is_written_from_the_policy():
    found = TABLE.search((REPO / "README.md").read_text())
    assert found, "README.md has no confinement table between its markers"
    assert found.group(1) == security.security_table(), (
        "README.md's confinement table differs from the policy: paste "
        "`python -c 'from dlgrade.supervisor.security import security_table; print(security_table())'`")


def test_the_table_follows_the_numbers():
    table = security.security_table(replace(POLICY, uid=4321, scratch=Scratch(size_mb=8, max_files=99),
                                            limits=Limits(cpu_seconds=7), call_timeout_s=3.5,
                                            container_uids=(7000, 10)))
    for text in ("uid 4321", "(8 MB, 99 files)", "CPU 7 s", "default 3.5 s", "(7000-7009)"):
        assert text in table
    header = table.splitlines()[0]
    assert [cell.strip().split()[0] for cell in header.strip("|").split("|")[1:]] == ["namespaces", "container", "none"]


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_is_described_and_says_what_it_lacks(mode):
    line = policy.describe(mode, seccomp=True, landlock=0)
    assert line.startswith(f"tier {mode.tier} ") and "seccomp filter" in line
    if mode.namespaces:
        assert "no network" in line and "bubblewrap" in line
    elif mode is Mode.CONTAINER:
        assert "uid of its own (62000-63999)" in line and "killed by uid" in line and "no Landlock" in line
    else:
        assert "AS YOU" in line and "not protected" in line
    assert "NO seccomp filter" in policy.describe(mode, seccomp=False)
    assert "Landlock ABI 3" in policy.describe(Mode.CONTAINER, landlock=3)


def test_each_mode_belongs_to_one_of_three_tiers():
    assert {m: m.tier for m in Mode} == {Mode.DROP: "namespaces", Mode.CAPS: "namespaces",
                                         Mode.CONTAINER: "container", Mode.PLAIN: "none"}


def test_never_hidden_folders_stay_visible_whatever_is_asked():
    hidden = POLICY.hidden_paths(extra=["/usr", "/", "/etc"])
    assert not {Path("/usr"), Path("/"), Path("/etc")} & set(hidden)


def test_hidden_paths_are_the_policy_s_and_outermost_first(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    narrow = Policy(hidden=("/srv",), hidden_places=())
    assert narrow.hidden_paths([secret]) == sorted({Path(os.path.realpath(p)) for p in ("/srv", secret)
                                                    if Path(p).is_dir()}, key=lambda p: (len(p.parts), str(p)))
    assert all(p in POLICY.hidden_paths() for place in POLICY.hidden_places for p in policy.where(place)
               if p.is_dir() and str(p) not in POLICY.never_hidden)


def test_read_only_places_cover_python_and_dlgrade():
    paths = POLICY.read_only_paths()
    import dlgrade
    import sys

    for needed in (Path(os.path.realpath(sys.executable)), Path(os.path.realpath(dlgrade.__file__))):
        assert any(p == needed or p in needed.parents for p in paths), needed


def test_the_worker_carries_out_the_policy_s_confinement():
    for mode in Mode:
        rules = Rules.from_json(json.dumps(POLICY.confinement(mode)))
        assert (rules.mode, rules.uid, rules.scratch_tmpfs) == (str(mode), POLICY.uid, "size=64m,nr_inodes=4096,mode=0700")
        assert rules.has_namespaces == mode.namespaces and rules.own_pid
        assert rules.seccomp_denied == policy.SECCOMP_DENIED and len(rules.clone_flags_denied) == 8
        assert (rules.landlock_readable is not None) == (not mode.namespaces)
        assert not Rules.from_json(json.dumps(POLICY.confinement(mode, seccomp=False, landlock=False))).seccomp_denied
    other = replace(POLICY, uid=1234, scratch=Scratch(16, 10), worker_namespaces=(Namespace.MOUNT,),
                    container_uids=(5000, 3))
    rules = Rules.from_json(json.dumps(other.confinement(Mode.DROP)))
    assert (rules.uid, rules.scratch_tmpfs, rules.own_pid) == (1234, "size=16m,nr_inodes=10,mode=0700", False)
    assert Rules.from_json(json.dumps(other.confinement(Mode.CONTAINER))).uids == (5000, 3)


def test_the_seccomp_filter_refuses_what_the_policy_lists():
    """Every denied call and every namespace flag of clone is refused in a child that installs the
    filter (as a worker does); other calls, fork included, still work."""
    import ctypes
    import errno
    import socket

    from dlgrade.exposed import filters

    if not filters.seccomp_available():
        pytest.skip("no libseccomp here")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(38, 1, 0, 0, 0)  # no new privileges
            filters.install_seccomp(POLICY.seccomp_denied, POLICY.clone_flags_denied)
            refused = []
            for make in (lambda: socket.socket(socket.AF_INET), lambda: socket.socket(socket.AF_UNIX),
                         lambda: socket.socketpair()):
                try:
                    make()
                except PermissionError:
                    refused.append(True)
            refused.append(libc.unshare(0x40000000) == -1 and ctypes.get_errno() == errno.EPERM)
            refused.append(libc.syscall(56, 0x20000000 | 17, 0, 0, 0, 0) == -1)  # clone(CLONE_NEWPID | SIGCHLD)
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
            code = 0 if refused == [True] * 5 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(bwrap.bwrap_path() is None, reason="needs bubblewrap")
def test_bwrap_command_translates_the_policy(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    narrow = replace(POLICY, sandbox_namespaces=(Namespace.NET, Namespace.PID))
    command = bwrap.bwrap_command(scratch, {"A": "1"}, hide=[tmp_path], policy=narrow)
    assert command is not None and command[-1] == "--"
    assert "--unshare-net" in command and "--unshare-pid" in command and "--unshare-ipc" not in command
    tmpfs = {command[i + 1] for i, arg in enumerate(command) if arg == "--tmpfs"}
    assert tmpfs == {str(p) for p in narrow.hidden_paths([tmp_path])}
    binds = [(command[i], command[i + 1]) for i, arg in enumerate(command) if arg in ("--bind", "--ro-bind")]
    assert ("--bind", str(scratch.resolve())) in binds  # the one writable place
    for path in narrow.read_only_paths():
        if any(h == path or h in path.parents for h in narrow.hidden_paths([tmp_path])):
            assert ("--ro-bind", str(path)) in binds, path
    assert command[command.index("--setenv") + 1:command.index("--setenv") + 3] == ["A", "1"]


def test_places_resolve_on_this_machine():
    for place in Place:
        assert policy.where(place), place
