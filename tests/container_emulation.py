"""Run a command as Docker's default container would let it run: ``python container_emulation.py CMD...``.

What Docker's default profile does to a root process, on this host: a seccomp filter refuses
``unshare``, ``setns``, ``mount``, ``umount2``, ``pivot_root`` and ``clone`` with any namespace
flag (EPERM), and answers ``clone3`` with ENOSYS; the capability bounding set keeps only Docker's
default capabilities (no CAP_SYS_ADMIN, CAP_SYS_PTRACE, ...). Both are inherited by everything the
command starts, so ``bwrap`` fails exactly as in the container ("Creating new namespace failed:
Operation not permitted") and dlgrade picks its container tier. Needs root (as Docker's does).
"""
from __future__ import annotations

import ctypes
import errno
import os
import sys

import pyseccomp as sc

# Docker's default capabilities (moby's oci/caps/defaults.go)
DOCKER_CAPS = {0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31}  # CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
# SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
REFUSED = ("unshare", "setns", "mount", "umount2", "pivot_root")
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)
PR_CAPBSET_DROP = 24
LAST_CAP = 40


def restrict() -> None:
    """Put this process (and what it will run) under the container's restrictions."""
    seccomp = sc.SyscallFilter(sc.ALLOW)
    for name in REFUSED:
        seccomp.add_rule(sc.ERRNO(errno.EPERM), name)
    for flag in NAMESPACE_FLAGS:
        seccomp.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    seccomp.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    seccomp.load()  # as root with CAP_SYS_ADMIN still: no no-new-privileges needed (Docker sets none)
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(LAST_CAP + 1):
        if cap not in DOCKER_CAPS and libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() != errno.EINVAL:  # EINVAL: the kernel has no such capability
                raise OSError(ctypes.get_errno(), f"cannot drop capability {cap}")


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: container_emulation.py CMD [ARGS...]")
    if os.geteuid() != 0:
        raise SystemExit("container_emulation.py: needs root, as Docker's containers run it")
    restrict()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
