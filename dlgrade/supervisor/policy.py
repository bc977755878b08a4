"""The sandbox policy: what confines a worker, stated once, as data.

Every tier translates the same :data:`POLICY` into its own mechanism: bubblewrap's command line
and the zygote's per-worker steps (:mod:`dlgrade.supervisor.bwrap`,
:mod:`dlgrade.worker.confinement`) where namespaces can be made, or a plain child process with the
limits only where they cannot (:class:`Mode`). :func:`describe` (one line for logs) and
:func:`security_table` (the README's confinement table; a test keeps the two equal) read it too.
nsjail's ``config.proto`` is the model: a declarative config, one mechanism per field.
"""
from __future__ import annotations

import os
import site
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import dlgrade


class Mode(StrEnum):
    """How workers are confined on this machine (the tier in force, always said)."""

    DROP = "drop"  # bubblewrap, the grader is root: each worker becomes Policy.uid
    CAPS = "caps"  # bubblewrap, an ordinary user: a user namespace, no capabilities
    PLAIN = "plain"  # no namespaces can be made: a separate process with the limits only

    @property
    def sandboxed(self) -> bool:
        return self is not Mode.PLAIN


class Namespace(StrEnum):
    """Linux namespaces, by the name ``/proc/<pid>/ns/`` gives them."""

    MOUNT = "mnt"
    PID = "pid"
    NET = "net"
    IPC = "ipc"
    UTS = "uts"
    CGROUP = "cgroup"
    USER = "user"


class Place(StrEnum):
    """Folders whose path depends on the machine, named for what they are."""

    TEMP = "the temporary folder"
    HOME = "the home folder"
    WORKING = "the grader's working folder"
    KIT = "the folder holding dlgrade (the repository or the kit)"
    PYTHON = "the Python runtime, its standard library and site-packages"
    DLGRADE = "the dlgrade package"


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def where(place: Place) -> list[Path]:
    """The folders ``place`` is on this machine."""
    if place is Place.TEMP:
        return [_real(tempfile.gettempdir())]
    if place is Place.HOME:
        return [_real(Path.home())]
    if place is Place.WORKING:
        return [_real(os.getcwd())]
    if place is Place.KIT:
        return [_real(dlgrade.__file__).parents[1]]
    if place is Place.DLGRADE:
        return [_real(dlgrade.__file__).parent]
    paths = {_real(sys.base_prefix), _real(sys.prefix), _real(sys.executable).parent}
    paths |= {_real(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= {_real(p) for p in site.getsitepackages()}
    return sorted(paths)


@dataclass(frozen=True)
class Limits:
    """Per-worker limits (soft = hard, set before any student code runs); a worker restarted
    after a crash gets them afresh.

    Attributes:
        memory_mb: address space the student's code may add to what Python and torch already use.
        cpu_seconds: CPU time for the whole worker process.
        processes: processes/threads the worker may add (RLIMIT_NPROC counts per user, so the
            supervisor adds what that user already runs, see :meth:`to_message`).
        open_files: file descriptors.
        file_size_mb: largest file it may write.
        printed_chars: what the student's code prints is kept up to this many characters a call.
    """

    memory_mb: int = 2048
    cpu_seconds: int = 300
    processes: int = 32
    open_files: int = 256
    file_size_mb: int = 64
    printed_chars: int = 64 * 1024

    def to_message(self, processes_in_use: int) -> dict:
        """Plain data for the worker, with the process limit made absolute: ``processes`` more than
        the worker's user runs already."""
        return asdict(self) | {"processes": self.processes + processes_in_use}


@dataclass(frozen=True)
class Scratch:
    """Each worker's one writable place: a fresh private tmpfs holding only its submission."""

    size_mb: int = 64
    max_files: int = 4096

    def tmpfs_options(self) -> str:
        return f"size={self.size_mb}m,nr_inodes={self.max_files},mode=0700"


# never hidden, even when asked (a submission at /x.py must not hide the system)
SYSTEM = ("/", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/var", "/proc", "/dev", "/sys", "/run",
          "/boot")
ALWAYS_HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/autograder", "/run/user", "/srv", "/mnt",
                 "/media", "/opt", "/work", "/workspace")


@dataclass(frozen=True)
class Policy:
    """Everything that confines a worker. The default, :data:`POLICY`, is what dlgrade enforces.

    Attributes:
        hidden: folders that become empty in the worker's view (plus ``hidden_places`` and, per
            run, the grader's private paths: submissions, results, the kit).
        hidden_places: machine-dependent folders hidden the same way.
        never_hidden: system folders no request can hide.
        read_only: places put back, read-only, inside hidden folders (everything else of ``/`` is
            read-only already).
        scratch: each worker's writable tmpfs.
        uid: who a worker becomes when the grader runs as root (``nobody``).
        sandbox_namespaces: the namespaces the zygote's sandbox gets (every worker shares them).
        worker_namespaces: the namespaces each worker gets of its own (it is PID 1 of its PID one).
        seccomp_denied: system calls refused by a seccomp filter (none in the namespace tiers).
        limits: resource limits per worker.
        call_timeout_s: wall-clock seconds per call into student code (``--timeout``'s default).
        start_timeout_s: seconds to start a worker or the zygote (Python and ``import torch``),
            before any student code runs.
    """

    hidden: tuple[str, ...] = ALWAYS_HIDDEN
    hidden_places: tuple[Place, ...] = (Place.TEMP, Place.HOME, Place.WORKING, Place.KIT)
    never_hidden: tuple[str, ...] = SYSTEM
    read_only: tuple[Place, ...] = (Place.PYTHON, Place.DLGRADE)
    scratch: Scratch = field(default_factory=Scratch)
    uid: int = 65534
    sandbox_namespaces: tuple[Namespace, ...] = (Namespace.NET, Namespace.PID, Namespace.IPC, Namespace.UTS,
                                                 Namespace.CGROUP)
    worker_namespaces: tuple[Namespace, ...] = (Namespace.MOUNT, Namespace.PID, Namespace.IPC, Namespace.UTS)
    seccomp_denied: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    call_timeout_s: float = 20.0
    start_timeout_s: float = 60.0

    def hidden_paths(self, extra: Iterable[str | Path] = ()) -> list[Path]:
        """The folders a worker must not see on this machine, outermost first."""
        candidates = [*map(Path, self.hidden), *(p for place in self.hidden_places for p in where(place)), *extra]
        never = {Path(p) for p in self.never_hidden}
        hidden = {_real(p) for p in candidates if p and Path(p).is_dir()} - never
        return sorted(hidden, key=lambda p: (len(p.parts), str(p)))

    def read_only_paths(self) -> list[Path]:
        """What a worker must read inside hidden folders: :attr:`read_only`, outermost only."""
        existing = [p for place in self.read_only for p in where(place) if p.exists()]
        return sorted({p for p in existing if not any(q in p.parents for q in existing)})

    def worker_uid(self, mode: Mode) -> int:
        """The uid a worker runs as in ``mode``."""
        return self.uid if mode is Mode.DROP else os.geteuid()

    def confinement(self, mode: Mode) -> dict:
        """What the zygote needs to confine each worker it forks, as plain data."""
        return {"mode": str(mode), "uid": self.uid, "scratch_tmpfs": self.scratch.tmpfs_options(),
                "namespaces": [str(n) for n in self.worker_namespaces]}


POLICY = Policy()


def describe(mode: Mode, policy: Policy = POLICY) -> str:
    """One line on how workers are confined in ``mode`` (for logs, results and the README)."""
    if mode is Mode.PLAIN:
        return "no namespaces (bubblewrap missing or refused): separate process with resource limits only"
    who = f"drops to uid {policy.uid}" if mode is Mode.DROP else "runs as you in a user namespace, no capabilities"
    return f"bubblewrap: private filesystem view, no network, own PID namespace; {who}"


def _names(paths: Iterable[str]) -> str:
    quoted = [f"`{p}`" for p in paths]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)


def security_table(policy: Policy = POLICY) -> str:
    """The README's confinement table (Markdown), written from ``policy``."""
    from dlgrade.exposed.protocol import MAX_BLOBS

    limits, scratch, max_message_mb = policy.limits, policy.scratch, MAX_BLOBS // 2**20
    places = {Place.WORKING: "the grader's working folder", Place.KIT: "the folder holding `dlgrade` (the repository "
              "or the kit)", Place.TEMP: "the temporary folder", Place.HOME: "the home folder"}
    hidden = ", ".join([_names(policy.hidden), *(places[p] for p in policy.hidden_places),
                        "every submission's folder and the results folder"])
    rows = [
        ("what", "how", "where"),
        ("---", "---", "---"),
        ("no access to graders, reference, results",
         f"the zygote (and so every worker forked from it) gets its own mount namespace: `/` read-only; {hidden} "
         f"become empty in-memory folders; {' and '.join(p.value for p in policy.read_only)} are put back "
         "read-only; each worker then gets a mount namespace of its own whose one writable place is a fresh "
         f"private tmpfs ({scratch.size_mb} MB, {scratch.max_files} files) holding only its submission, so workers "
         "cannot see one another's files",
         "where namespaces can be made (modes `drop` and `caps`: bubblewrap is installed and allowed; `.ci/run` "
         "installs it, the autograder zip's `setup.sh` installs it on Gradescope)"),
        ("unprivileged",
         f"as root (Gradescope, CI) the worker drops to uid {policy.uid} (`nobody`) before any student code runs; "
         "as an ordinary user it runs in a user namespace and drops every capability; no-new-privileges either way",
         "modes `drop` and `caps`"),
        ("no network",
         "the zygote's new network namespace holds nothing but loopback; every worker is forked into it (and into "
         "IPC and UTS namespaces of its own, so System V shared memory dies with the worker)",
         "modes `drop` and `caps`"),
        ("nothing survives",
         "each worker is PID 1 of a PID namespace of its own, with a `/proc` that shows only that namespace; the "
         "grader kills it through a pidfd (its PID comes from the kernel, as the credentials of its first message) "
         "and the whole namespace goes, `setsid`/double-fork included; the zygote's bwrap has `--die-with-parent`",
         "modes `drop` and `caps`; in mode `plain`, the worker's process group only"),
        ("limits",
         f"per call: wall-clock timeout (`--timeout`, default {policy.call_timeout_s:g} s); per worker: address "
         f"space (+{limits.memory_mb / 1024:g} GB over Python and torch), CPU {limits.cpu_seconds} s, processes "
         f"(+{limits.processes}), {limits.open_files} open files, {limits.file_size_mb} MB files, no core dumps; "
         f"printed output kept to {limits.printed_chars // 1024} KB per call; messages to {max_message_mb} MB",
         "every mode (rlimits)"),
    ]
    return "\n".join(f"| {what} | {how} | {where} |" for what, how, where in rows)
