"""In the worker: set the resource limits the supervisor sent (soft = hard) before any student code runs.

Where the platform lacks a piece, what needs it is skipped: no ``resource`` (Windows), no rlimits
at all; no ``/proc`` (macOS), no address-space limit (it is made relative to what Python and torch
use already, which only ``/proc`` says) and no process limit (made absolute from what the user
runs, counted in ``/proc`` by the supervisor). The per-call timeout, the supervisor's, still holds.
"""
from __future__ import annotations

from pathlib import Path

from dlgrade.exposed import platform_support


def _vm_size() -> int:
    """This process's address space in bytes, as ``/proc`` says it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def wanted(limits: dict) -> dict[str, int]:
    """The rlimits to set, by name (``RLIMIT_AS``, ...), from the supervisor's ``limits``."""
    mb = 1024 * 1024
    proc = platform_support.has_proc()  # both limits below are made from what /proc says
    found = {
        "RLIMIT_AS": _vm_size() + limits["memory_mb"] * mb if proc else None,
        "RLIMIT_CPU": limits["cpu_seconds"],
        "RLIMIT_NPROC": limits["processes"] if proc else None,
        "RLIMIT_NOFILE": limits["open_files"],
        "RLIMIT_FSIZE": limits["file_size_mb"] * mb,
        "RLIMIT_CORE": 0,
    }
    return {name: value for name, value in found.items() if value is not None}


def apply(limits: dict) -> None:
    """In the worker: set the limits (soft and hard, so student code cannot raise them); those
    this platform does not have are skipped."""
    resource = platform_support.rlimits()
    if resource is None:
        return
    for name, value in wanted(limits).items():
        key = getattr(resource, name, None)
        if key is None:
            continue
        soft, hard = resource.getrlimit(key)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(key, (value, value))
