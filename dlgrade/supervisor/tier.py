"""Which confinement tier is in force here, said, never silently weaker.

:func:`mode` probes once per process: bubblewrap with namespaces (``drop`` as root, ``caps`` as
an ordinary user); without namespaces, as root, ``container`` (a uid of its own per worker,
seccomp, Landlock where the kernel has it, the trusted places made unreadable); else ``plain``.
As root, nothing weaker than ``container`` runs unless ``DLGRADE_ALLOW_UNCONFINED=1``
(``--allow-unconfined``) says so: :func:`require_confinement`. :func:`describe` says it in one line.
"""
from __future__ import annotations

import functools
import os

from dlgrade.errors import UsageError
from dlgrade.exposed import filters, platform_support
from dlgrade.supervisor import bwrap, policy
from dlgrade.supervisor.policy import Mode

ALLOW_UNCONFINED = "DLGRADE_ALLOW_UNCONFINED"


@functools.cache
def seccomp() -> bool:
    """Whether workers here get the seccomp filter (pyseccomp and libseccomp work)."""
    return filters.seccomp_available()


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI (0: none), for the tiers that use it."""
    return filters.landlock_abi()


def mode() -> Mode:
    """The tier workers get on this machine: ``plain`` where there are no uids or no descriptors
    to pass to a child (Windows: neither namespaces nor a uid to drop to; the student's check
    there runs the student's own code on the student's own machine, in a process of its own)."""
    euid = platform_support.effective_uid()
    if euid is None or not platform_support.can_pass_fds():
        return Mode.PLAIN
    if bwrap.bwrap_path() is not None:
        return Mode.DROP if euid == 0 else Mode.CAPS
    if euid == 0 and seccomp():
        return Mode.CONTAINER
    return Mode.PLAIN


def unconfined_allowed() -> bool:
    return os.environ.get(ALLOW_UNCONFINED, "") not in ("", "0")


def require_confinement() -> Mode:
    """:func:`mode`, or :class:`UsageError` where it would run student code as root with less than
    its own uid and the seccomp filter (unless :data:`ALLOW_UNCONFINED` is set)."""
    found = mode()
    if found is Mode.PLAIN and platform_support.effective_uid() == 0 and not unconfined_allowed():
        raise UsageError("refusing to grade as root without confinement: no namespaces (bubblewrap) and no "
                         "seccomp (pip install pyseccomp; apt-get install libseccomp2); "
                         "--allow-unconfined runs student code as root anyway")
    return found


def confinement(found: Mode) -> dict:
    """The policy's rules for workers in mode ``found``, with the filters this machine has."""
    return policy.POLICY.confinement(found, seccomp(), landlock_abi() > 0)


def describe() -> str:
    """One line on how workers are confined on this machine."""
    return policy.describe(mode(), seccomp=seccomp(), landlock=landlock_abi())
