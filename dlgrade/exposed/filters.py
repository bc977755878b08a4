"""The seccomp filter and the Landlock ruleset a worker puts on itself, the last steps before any
student code exists in it.

Both come from the policy (:data:`dlgrade.supervisor.policy.SECCOMP_DENIED`,
:attr:`~dlgrade.supervisor.policy.Policy.landlock_readable`; the lists travel in the confinement
rules); the work is done by maintained bindings, not hand-written BPF: ``pyseccomp`` (ctypes over
the system's libseccomp) and ``landlock`` (the Landlock LSM's system calls). Both need
no-new-privileges first, which :func:`dlgrade.worker.confinement.drop_privileges` has set. They
are optional imports: a student's own machine (Windows, macOS) has neither, and there the checks
run without them (the supervisor asks for them only where :func:`seccomp_available` says they work).
"""
from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from types import ModuleType


def preload() -> None:
    """Import the bindings (and find libseccomp) now, in the zygote: a worker that has just
    dropped its privileges could no longer run ``find_library``, which writes a temporary file."""
    seccomp_available()
    landlock_abi()


def seccomp_available() -> bool:
    """Whether a seccomp filter can be built here (Linux, pyseccomp and libseccomp installed)."""
    try:
        import pyseccomp

        pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    except Exception:  # ImportError, or libseccomp.so missing (OSError) or broken
        return False
    return True


def load_seccomp() -> ModuleType:
    """The seccomp bindings, loaded (pyseccomp finds libseccomp with ``ldconfig -p``: do it while
    the process may still run it)."""
    import pyseccomp

    return pyseccomp


def install_seccomp(denied: Iterable[str], clone_flags: Iterable[int]) -> None:
    """Refuse ``denied`` system calls with EPERM, ``clone`` with any of ``clone_flags`` with
    EPERM, and ``clone3`` with ENOSYS (the C library then falls back to ``clone``); allow the rest.
    Names this architecture lacks are skipped."""
    import pyseccomp as sc

    refused = sc.ERRNO(errno.EPERM)
    seccomp = sc.SyscallFilter(sc.ALLOW)
    for name in denied:
        try:
            seccomp.add_rule(refused, name)
        except (OSError, ValueError, RuntimeError):
            continue  # not a system call on this architecture
    for flag in clone_flags:
        seccomp.add_rule(refused, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    seccomp.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    seccomp.load()


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing, disabled or refused
    (an older container profile answers its system calls with EPERM or ENOSYS)."""
    try:
        from landlock import landlock_abi_version

        return int(landlock_abi_version())
    except Exception:
        return 0


def install_landlock(readable: Iterable[str], writable: Iterable[str]) -> bool:
    """Limit this process's filesystem to reading (and executing) ``readable`` and anything in
    ``writable``; False where the kernel has no Landlock."""
    if landlock_abi() < 1:
        return False
    from landlock import FSAccess, Ruleset

    ruleset = Ruleset()
    read = FSAccess.EXECUTE | FSAccess.READ_FILE | FSAccess.READ_DIR
    for path in readable:
        ruleset.allow(path, rules=read)
    for path in writable:
        ruleset.allow(path)
    ruleset.apply()
    os.close(ruleset._fd)  # the binding keeps the ruleset's descriptor open; the worker must hold none but its socket
    return True
