"""The sandbox policy: what confines a worker, stated once, as data.

Every tier (:class:`Mode`) translates the same :data:`POLICY` into its own mechanism: bubblewrap's
command line (:mod:`dlgrade.supervisor.bwrap`) where namespaces can be made; file modes
(:mod:`dlgrade.supervisor.lockdown`) and a uid per worker where they cannot; and in every tier the
zygote's per-worker steps (:mod:`dlgrade.worker.confinement`: uid, seccomp, Landlock, limits).
:func:`describe` (one line for logs and results) and :mod:`dlgrade.supervisor.security` (the
README's confinement table; a test keeps the two equal) read it too.
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
from dlgrade.exposed import platform_support


class Mode(StrEnum):
    """How workers are confined on this machine (the tier in force, always said).

    Three tiers: ``namespaces`` (modes ``drop`` and ``caps``), ``container`` (no namespaces can be
    made, the grader is root: Docker's default profile, Gradescope) and ``none`` (``plain``: no
    namespaces, an ordinary user, so no other uid to run workers as). Every mode adds the seccomp
    filter; ``container`` and ``plain`` add Landlock where the kernel has it.
    """

    DROP = "drop"  # bubblewrap, the grader is root: each worker becomes Policy.uid
    CAPS = "caps"  # bubblewrap, an ordinary user: a user namespace, no capabilities
    CONTAINER = "container"  # no namespaces, the grader is root: a uid of its own per worker
    PLAIN = "plain"  # no namespaces, an ordinary user: a separate process as that user

    @property
    def namespaces(self) -> bool:
        """Whether workers get namespaces (bubblewrap's view of the filesystem, no network)."""
        return self in (Mode.DROP, Mode.CAPS)

    @property
    def tier(self) -> str:
        """The tier's name: ``namespaces``, ``container`` or ``none``."""
        return "namespaces" if self.namespaces else "container" if self is Mode.CONTAINER else "none"


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


# system calls a worker may never make (seccomp, every tier): no new socket (the protocol's was
# made before; no TCP/UDP, loopback included, no Unix sockets, abstract ones included), no tracing
# or reading other processes, no mounts or namespaces, no kernel keyring, BPF, perf or io_uring
# (whose operations seccomp cannot see), no kernel modules, no System V IPC
SECCOMP_DENIED = ("socket", "socketpair", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2",
                  "unshare", "setns", "pivot_root", "chroot", "keyctl", "add_key", "request_key", "bpf",
                  "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
                  "open_by_handle_at", "name_to_handle_at", "fsopen", "fsmount", "fspick", "open_tree", "move_mount",
                  "mount_setattr", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
                  "fanotify_init", "quotactl", "swapon", "swapoff", "reboot", "acct",
                  # System V IPC outlives a worker and, without an IPC namespace, is shared between uids
                  "shmget", "shmat", "msgget", "semget")
# clone(2) with any of these flags makes a namespace: refused; clone3 (whose flags seccomp cannot
# read) answers ENOSYS, so the C library falls back to clone
CLONE_NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
                         "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                         "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}
# what Landlock lets a worker read where it applies (besides Place.PYTHON and Place.DLGRADE); its
# scratch folder is the one place it may write
LANDLOCK_READABLE = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/proc", "/sys", "/dev")
# the temporary folders stay shared in the container tier (the trusted side's own are 0700)
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")

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
        seccomp_denied: system calls refused by the seccomp filter (every tier).
        clone_flags_denied: ``clone`` flags refused by the filter (every namespace flag).
        landlock_readable: what Landlock leaves readable (tiers ``container`` and ``none``), with
            :attr:`read_only`.
        container_uids: ``(first, count)``: in the container tier each worker runs as a uid of its
            own from this range, so that everything it started can be found and killed.
        limits: resource limits per worker.
        call_timeout_s: wall-clock seconds per call into student code (``--timeout``'s default).
        start_timeout_s: seconds to start a worker or the zygote (Python and ``import torch``),
            before any student code runs.
        budget_per_timeout: a submission's time budget (``--budget``'s default) in timeouts: the
            seconds its workers may spend loading and answering, reloads included. 10 x 20 s
            keeps one submission well inside Gradescope's 10 minutes and still lets a student
            whose one function loops forever (each test calling it costs a timeout) keep the
            points of the others.
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
    seccomp_denied: tuple[str, ...] = SECCOMP_DENIED
    clone_flags_denied: tuple[int, ...] = tuple(CLONE_NAMESPACE_FLAGS.values())
    landlock_readable: tuple[str, ...] = LANDLOCK_READABLE
    container_uids: tuple[int, int] = (62000, 2000)
    limits: Limits = field(default_factory=Limits)
    call_timeout_s: float = 20.0
    start_timeout_s: float = 60.0
    budget_per_timeout: float = 10.0

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

    def worker_uid(self, mode: Mode) -> int | None:
        """The uid a worker runs as in ``mode`` (in ``container``, the first of its range; None
        where there are no uids)."""
        if mode is Mode.DROP:
            return self.uid
        return self.container_uids[0] if mode is Mode.CONTAINER else platform_support.effective_uid()

    def landlock_paths(self) -> list[Path]:
        """What Landlock leaves readable on this machine."""
        return sorted({Path(p) for p in self.landlock_readable if Path(p).exists()} | set(self.read_only_paths()))

    def confinement(self, mode: Mode, seccomp: bool = True, landlock: bool = True) -> dict:
        """What the zygote needs to confine each worker it forks, as plain data; ``seccomp`` and
        ``landlock``: whether this machine has them (the tier says so when it does not)."""
        use_landlock = landlock and mode in (Mode.CONTAINER, Mode.PLAIN)
        return {"mode": str(mode), "uid": self.uid, "scratch_tmpfs": self.scratch.tmpfs_options(),
                "namespaces": [str(n) for n in self.worker_namespaces], "uids": list(self.container_uids),
                "seccomp_denied": list(self.seccomp_denied) if seccomp else [],
                "clone_flags_denied": list(self.clone_flags_denied) if seccomp else [],
                "landlock_readable": [str(p) for p in self.landlock_paths()] if use_landlock else None}


POLICY = Policy()


def describe(mode: Mode, policy: Policy = POLICY, seccomp: bool = True, landlock: int = 0) -> str:
    """One line on how workers are confined in ``mode`` (for logs, results and the README):
    the tier, then what it gives, then what it lacks."""
    filters = "seccomp filter (no sockets, ptrace, mounts or namespaces)" if seccomp else "NO seccomp filter"
    if mode.namespaces:
        who = f"drops to uid {policy.uid}" if mode is Mode.DROP else "runs as you in a user namespace, no capabilities"
        return (f"tier namespaces ({mode}): bubblewrap: private filesystem view, no network, own PID namespace; "
                f"{who}; {filters}")
    walls = f"Landlock ABI {landlock} (reads only the Python runtime, writes only its scratch)" if landlock \
        else "no Landlock (the kernel lacks it)"
    if mode is Mode.CONTAINER:
        first, count = policy.container_uids
        return (f"tier container (no namespaces): each worker runs as a uid of its own ({first}-{first + count - 1}), "
                f"the grader's files made unreadable to it, {filters}, {walls}; what it started is killed by uid")
    return (f"tier none (no namespaces, not root): a separate process AS YOU, {filters}, {walls}; not protected: "
            "whatever your user can read or write that Landlock does not cover, and processes it detaches")
