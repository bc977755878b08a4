"""Confinement of the worker that runs student code.

With Debian's ``bubblewrap`` (``bwrap``) the worker gets its own view of the filesystem -- ``/``
read-only, the temporary folders, home folders, ``/autograder``, the grader's working folder, the
repository (or kit) with the reference and the hidden graders, and the results folder replaced
by empty in-memory folders; the Python runtime, its libraries and the ``dlgrade`` package put
back read-only; its scratch folder the only writable place -- plus new network, PID, IPC and UTS
namespaces (no network; killing the worker kills everything it started). When the grader runs as
root, the worker drops to ``nobody`` before any student code runs. Without bwrap (or where it
cannot create namespaces) the worker is an ordinary child process; see :func:`describe`.
"""
from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path

import dlgrade

NOBODY = 65534
# never hidden, even when asked (a submission at /x.py must not hide the system)
SYSTEM = {Path(p) for p in ("/", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/var", "/proc",
                            "/dev", "/sys", "/run", "/boot")}
ALWAYS_HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/autograder", "/run/user", "/srv", "/mnt",
                 "/media", "/opt", "/work", "/workspace")


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


@functools.cache
def bwrap_path() -> str | None:
    """``bwrap`` if it is installed and can create the namespaces we use here, else None."""
    found = shutil.which("bwrap")
    if not found:
        return None
    probe = [found, *_namespace_flags(), "--ro-bind", "/", "/", "--", "/bin/true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return found if ok else None


def _namespace_flags(keep_admin: bool = False) -> list[str]:
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:  # an ordinary user needs a user namespace; root keeps real uids and drops later
        flags += ["--unshare-user", "--cap-drop", "ALL"]
        if keep_admin:  # the zygote mounts each worker's scratch and /proc (caps of the user namespace only)
            flags += ["--cap-add", "CAP_SYS_ADMIN"]
    return flags


def runtime_paths() -> list[Path]:
    """What the worker must read: the interpreter, its standard library, site-packages, dlgrade."""
    paths = {_real(sys.base_prefix), _real(sys.prefix), _real(sys.executable).parent,
             _real(dlgrade.__file__).parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(_real(sysconfig.get_paths()[key]))
    paths.update(_real(p) for p in site.getsitepackages())
    existing = [p for p in paths if p.exists()]
    return sorted(p for p in existing if not any(q in p.parents for q in existing))


def hidden_paths(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Folders the worker must not see (they become empty): temp, homes, the grader's own files."""
    candidates = [*ALWAYS_HIDDEN, tempfile.gettempdir(), Path.home(), os.getcwd(),
                  _real(dlgrade.__file__).parents[1], *extra]
    hidden = {_real(p) for p in candidates if p and Path(p).is_dir()} - SYSTEM
    return sorted(hidden, key=lambda p: (len(p.parts), str(p)))


def bwrap_command(scratch: Path, env: dict[str, str], hide: Iterable[str | Path] = (),
                  keep_admin: bool = False) -> list[str] | None:
    """The ``bwrap ... --`` prefix for a worker in ``scratch``; None when bwrap cannot be used.

    ``keep_admin``: for the zygote, which confines the workers it forks (see
    :mod:`dlgrade.worker.zygote`); as root bwrap keeps capabilities anyway."""
    found = bwrap_path()
    if found is None:
        return None
    scratch = _real(scratch)
    command = [found, *_namespace_flags(keep_admin), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = hidden_paths(hide)
    for path in hidden:
        command += ["--perms", "0755", "--tmpfs", str(path)]
    made: set[Path] = set()
    for path in [*runtime_paths(), scratch]:
        inside = [h for h in hidden if path == h or h in path.parents]
        if not inside:
            continue  # already visible through the read-only root
        top = max(inside, key=lambda h: len(h.parts))
        for parent in reversed(path.parents):  # create the path's parents, world-readable
            if top in parent.parents and parent not in made:
                command += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        command += ["--bind" if path == scratch else "--ro-bind", str(path), str(path)]
    command += ["--chdir", str(scratch), "--clearenv"]
    for key, value in sorted(env.items()):
        command += ["--setenv", key, value]
    return command + ["--"]


def describe() -> str:
    """One line on how workers are confined on this machine (for logs and the README)."""
    if bwrap_path():
        who = "drops to nobody" if os.geteuid() == 0 else "runs as you in a user namespace"
        return f"bubblewrap: private filesystem view, no network, own PID namespace; {who}"
    return "no bubblewrap: separate process with resource limits only (install bubblewrap for isolation)"
