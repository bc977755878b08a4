"""The bubblewrap tier: the sandbox policy as ``bwrap``'s command line.

``bwrap`` (Debian's ``bubblewrap``) gives the process it starts the namespaces of
:attr:`Policy.sandbox_namespaces <dlgrade.supervisor.policy.Policy>` and a view of the
filesystem in which ``/`` is read-only, every hidden folder an empty tmpfs, and the read-only
places and the scratch folder bound back at their own paths. As root it keeps real uids (the
worker drops to the policy's uid itself); as an ordinary user it adds a user namespace and drops
every capability. This module only translates; what is hidden, kept and limited is the policy's.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from dlgrade.supervisor.policy import POLICY, Namespace, Policy

_UNSHARE = {Namespace.NET: "--unshare-net", Namespace.PID: "--unshare-pid", Namespace.IPC: "--unshare-ipc",
            Namespace.UTS: "--unshare-uts", Namespace.CGROUP: "--unshare-cgroup-try", Namespace.USER: "--unshare-user"}


@functools.cache
def bwrap_path() -> str | None:
    """``bwrap`` if it is installed and can create the namespaces the policy asks for, else None."""
    found = shutil.which("bwrap")
    if not found:
        return None
    probe = [found, *namespace_flags(POLICY), "--ro-bind", "/", "/", "--", "/bin/true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return found if ok else None


def namespace_flags(policy: Policy, keep_admin: bool = False) -> list[str]:
    """bwrap's flags for the policy's sandbox namespaces (and, as a user, a user namespace).

    ``keep_admin``: for the zygote, which mounts each worker's scratch and ``/proc`` (within its
    user namespace only); as root bwrap keeps capabilities anyway."""
    flags = [_UNSHARE[n] for n in policy.sandbox_namespaces] + ["--die-with-parent", "--new-session"]
    if os.geteuid() != 0:  # an ordinary user needs a user namespace; root keeps real uids and drops later
        flags += [_UNSHARE[Namespace.USER], "--cap-drop", "ALL"]
        if keep_admin:
            flags += ["--cap-add", "CAP_SYS_ADMIN"]
    return flags


def bwrap_command(scratch: Path, env: dict[str, str], hide: Iterable[str | Path] = (), keep_admin: bool = False,
                  policy: Policy = POLICY) -> list[str] | None:
    """The ``bwrap ... --`` prefix for a process in ``scratch`` (its one writable folder), hiding
    ``hide`` too; None when bwrap cannot be used."""
    found = bwrap_path()
    if found is None:
        return None
    scratch = Path(os.path.realpath(scratch))
    command = [found, *namespace_flags(policy, keep_admin), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = policy.hidden_paths(hide)
    for path in hidden:
        command += ["--perms", "0755", "--tmpfs", str(path)]
    made: set[Path] = set()
    for path in [*policy.read_only_paths(), scratch]:
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
