"""In the worker: set the resource limits the supervisor sent (soft = hard) before any student code runs."""
from __future__ import annotations

from pathlib import Path


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def apply(limits: dict) -> None:
    """In the worker: set the limits (soft and hard, so student code cannot raise them)."""
    import resource

    mb = 1024 * 1024
    wanted = {
        resource.RLIMIT_AS: _vm_size() + limits["memory_mb"] * mb,
        resource.RLIMIT_CPU: limits["cpu_seconds"],
        resource.RLIMIT_NPROC: limits["processes"],
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_FSIZE: limits["file_size_mb"] * mb,
        resource.RLIMIT_CORE: 0,
    }
    for key, value in wanted.items():
        soft, hard = resource.getrlimit(key)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(key, (value, value))
