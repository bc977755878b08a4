"""Confine a freshly forked worker, in order, before any student code exists in it.

:func:`confine` runs the steps below in the child the zygote has just forked (already PID 1 of a
PID namespace of its own where the tier has namespaces). The rules come from the supervisor's
policy (:meth:`dlgrade.supervisor.policy.Policy.confinement`), so nothing here decides what is
hidden or how large the scratch folder is; it only carries it out:

1. :func:`own_session`: a process group of its own (without a PID namespace, that is what is killed);
2. :func:`private_scratch`: new mount, IPC and UTS namespaces, a fresh private tmpfs as the
   scratch folder and a ``/proc`` that shows only its PID namespace (without namespaces, a folder
   of its own);
3. :func:`stage_submission`: a copy of the submission file, from a descriptor, into the scratch;
4. :func:`redirect_output`: stdin from ``/dev/null``, stdout and stderr to a file in the scratch;
5. :func:`enter_scratch`: working folder, ``HOME`` and ``TMPDIR`` in the scratch;
6. :func:`drop_privileges`: as root, the policy's uid (in the container tier, a uid of its own
   from the policy's range; no groups); in a user namespace, no capabilities; either way no new
   privileges;
7. :func:`install_filters`: Landlock (tiers without namespaces, where the kernel has it), then the
   seccomp filter (every tier, where the supervisor found it works);
8. :func:`announce`: one byte on its socket, whose credentials tell the grader its PID and uid.
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from dlgrade.exposed import filters
from dlgrade.worker import syscalls

NAMESPACE_MODES = ("drop", "caps")
OUTPUT_FILE = ".worker-output"
_CLONE = {"mnt": syscalls.CLONE_NEWNS, "ipc": syscalls.CLONE_NEWIPC, "uts": syscalls.CLONE_NEWUTS}


@dataclass(frozen=True)
class Rules:
    """The policy's part that each worker carries out (see :meth:`Policy.confinement`)."""

    mode: str
    uid: int
    scratch_tmpfs: str
    namespaces: tuple[str, ...]
    uids: tuple[int, int] = (0, 0)
    seccomp_denied: tuple[str, ...] = ()
    clone_flags_denied: tuple[int, ...] = ()
    landlock_readable: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, text: str) -> Rules:
        data = json.loads(text)
        readable = data.get("landlock_readable")
        first, count = data.get("uids") or (0, 0)
        return cls(str(data["mode"]), int(data["uid"]), str(data["scratch_tmpfs"]), tuple(data["namespaces"]),
                   (int(first), int(count)), tuple(map(str, data.get("seccomp_denied", ()))),
                   tuple(map(int, data.get("clone_flags_denied", ()))),
                   None if readable is None else tuple(map(str, readable)))

    @property
    def has_namespaces(self) -> bool:
        return self.mode in NAMESPACE_MODES

    @property
    def own_pid(self) -> bool:
        return "pid" in self.namespaces

def own_session() -> None:
    os.setsid()


def private_scratch(scratch_root: str, rules: Rules, count: int) -> str:
    """The worker's scratch folder: a fresh tmpfs in namespaces of its own, or a new folder."""
    if not rules.has_namespaces:
        workdir = os.path.join(scratch_root, f"worker-{count}")
        os.mkdir(workdir, 0o700)
        return workdir
    workdir = os.path.join(scratch_root, "work")
    # its own mounts, System V IPC (which would outlive it) and host name; the network namespace
    # (loopback only) stays the zygote's: one per worker costs ~7 ms of CPU
    flags = 0
    for name in rules.namespaces:
        flags |= _CLONE.get(name, 0)
    syscalls.unshare(flags)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    syscalls.mount("tmpfs", workdir, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, rules.scratch_tmpfs)
    syscalls.mount("proc", "/proc", "proc", syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC)
    return workdir


def stage_submission(workdir: str, name: str | None, file_fd: int | None) -> list[str]:
    """Copy the submission (an open descriptor) into ``workdir`` as ``name``; the paths written."""
    if file_fd is None:
        return []
    if not name or os.path.basename(name) != name or name in (".", ".."):
        os.close(file_fd)
        return []
    target = os.path.join(workdir, name)
    with os.fdopen(file_fd, "rb") as source, open(target, "wb") as copy:
        copy.write(source.read())
    return [target]


def redirect_output(workdir: str) -> str:
    """Standard input from ``/dev/null``; standard output and error to a file in ``workdir``."""
    output = os.path.join(workdir, OUTPUT_FILE)
    log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(devnull)
    return output


def enter_scratch(workdir: str) -> None:
    os.chdir(workdir)
    os.environ.update(HOME=workdir, TMPDIR=workdir)


def drop_privileges(rules: Rules, owned: list[str], uid: int) -> None:
    """Become ``uid`` (as root: the policy's, or in the container tier the one the zygote claimed
    for this worker; it gets ``owned``) or drop every capability (in a user namespace); then no
    new privileges, ever."""
    if rules.mode in ("drop", "container") and os.geteuid() == 0:
        for path in owned:
            os.chown(path, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    elif rules.mode == "caps":
        syscalls.drop_capabilities()
    syscalls.no_new_privileges()


def install_filters(rules: Rules, workdir: str) -> None:
    """Landlock (reading only what the rules name, writing only ``workdir``), then seccomp."""
    if rules.seccomp_denied:
        filters.load_seccomp()  # first: finding libseccomp runs ldconfig, which Landlock forbids
    if rules.landlock_readable is not None:
        filters.install_landlock(rules.landlock_readable, [workdir])
    if rules.seccomp_denied:
        filters.install_seccomp(rules.seccomp_denied, rules.clone_flags_denied)


def announce(worker_fd: int) -> socket.socket:
    """The worker's socket, after its first byte (the grader reads this process's PID from the
    credentials the kernel attaches to it)."""
    sock = socket.socket(fileno=worker_fd)
    sock.send(b"R")
    return sock


def confine(worker_fd: int, file_fd: int | None, file_name: str | None, scratch_root: str, rules: Rules,
            count: int, uid: int) -> socket.socket:
    """Every step, in order; the socket to serve requests on."""
    own_session()
    workdir = private_scratch(scratch_root, rules, count)
    owned = [workdir, *stage_submission(workdir, file_name, file_fd)]
    owned.append(redirect_output(workdir))
    enter_scratch(workdir)
    drop_privileges(rules, owned, uid)
    install_filters(rules, workdir)
    return announce(worker_fd)
