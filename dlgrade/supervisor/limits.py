"""A worker's resource limits as the supervisor chooses them (the worker applies them: :mod:`dlgrade.worker.limits`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Per-worker limits; a worker restarted after a crash gets them afresh.

    Attributes:
        memory_mb: address space the student's code may add to what Python and torch already use.
        cpu_seconds: CPU time for the whole worker process.
        processes: processes/threads the worker may add (RLIMIT_NPROC counts per user, so the
            trusted side adds what that user already runs, see :meth:`to_message`).
        open_files: file descriptors.
        file_size_mb: largest file it may write.
    """

    memory_mb: int = 2048
    cpu_seconds: int = 300
    processes: int = 32
    open_files: int = 256
    file_size_mb: int = 64

    def to_message(self, processes_in_use: int) -> dict:
        """Plain data for the worker, with the process limit made absolute: ``processes`` more than
        the worker's user runs already."""
        return asdict(self) | {"processes": self.processes + processes_in_use}


def count_processes(uid: int) -> int:
    """Processes and threads that ``uid`` runs now (what RLIMIT_NPROC counts)."""
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
