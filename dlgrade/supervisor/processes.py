"""What a worker's user runs now: RLIMIT_NPROC counts per user, so a worker's process limit is made absolute from it."""
from __future__ import annotations

from pathlib import Path

from dlgrade.exposed import platform_support


def count_processes(uid: int | None) -> int:
    """Processes and threads that ``uid`` runs now (what RLIMIT_NPROC counts); 0 where that cannot
    be known (no uids, no ``/proc``: the worker then sets no process limit, see
    :func:`dlgrade.worker.limits.apply`)."""
    if uid is None or not platform_support.has_proc():
        return 0
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total
