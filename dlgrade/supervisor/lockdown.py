"""The container tier's filesystem wall: the grader's places made unreadable to worker uids.

Without mount namespaces nothing can be hidden from view, so in the container tier (the grader is
root, each worker a uid of its own with no groups) what the trusted side holds is closed by file
modes instead, before the zygote starts: every hidden place of the policy (the kit, the results
and the submissions, home folders, ``/autograder``, ...) loses its "other" permissions. Where a
place holds something a worker must reach (the Python runtime under ``/root`` on Gradescope, the
zygote's scratch folders), each folder on the way keeps only search (``o=x``: traverse, not list)
and everything else in it is closed too. The shared temporary folders stay as they are (the
trusted side's own folders in them are ``0700``). Landlock, where the kernel has it, is the
second wall (:mod:`dlgrade.exposed.filters`).

Sessions that run at once (a batch splits into several) share one record of the modes as they
were, :class:`Lockdown`: each holds a shared lock on it while it grades, and the last one to end
puts the modes back (a Gradescope container is thrown away anyway; an instructor's machine is not).
"""
from __future__ import annotations

import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

Change = tuple[Path, int]  # (path, its mode before)

_OTHER = stat.S_IRWXO


def _set_other(path: Path, other: int, changes: list[Change]) -> None:
    """Give ``path`` the "other" bits ``other`` (symbolic links are left alone)."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    mode = stat.S_IMODE(info.st_mode)
    new = (mode & ~_OTHER) | other
    if new != mode:
        os.chmod(path, new)
        changes.append((path, mode))


def _close_except(folder: Path, keep: list[Path], changes: list[Change]) -> None:
    """Close ``folder`` to others except the way to each of ``keep`` (inside it)."""
    if folder in keep:
        return  # kept readable as it is
    if not any(folder in k.parents for k in keep):
        _set_other(folder, 0, changes)
        return
    _set_other(folder, stat.S_IXOTH, changes)  # traverse, not list
    try:
        entries = [folder / name for name in os.listdir(folder)]
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            _close_except(entry, keep, changes)
        elif not any(entry == k or entry in k.parents for k in keep):
            _set_other(entry, 0, changes)


def lock_down(hidden: Iterable[Path], reachable: Iterable[Path], shared: Iterable[str | Path] = ()) -> list[Change]:
    """Close every folder of ``hidden`` (outermost first) to worker uids, keeping a way to each of
    ``reachable``; ``shared`` folders (the temporary ones) are left open. The changes made."""
    keep = [Path(os.path.realpath(p)) for p in reachable]
    skip = {Path(os.path.realpath(p)) for p in shared}
    changes: list[Change] = []
    for folder in hidden:
        folder = Path(os.path.realpath(folder))
        if folder in skip:
            continue
        _close_except(folder, [k for k in keep if k == folder or folder in k.parents], changes)
    for path in keep:  # the way down from / to each reachable place must be searchable
        for parent in reversed(path.parents):
            try:
                info = os.stat(parent)
            except OSError:
                break
            if not info.st_mode & stat.S_IXOTH:
                _set_other(parent, (stat.S_IMODE(info.st_mode) & _OTHER) | stat.S_IXOTH, changes)
    return changes


def restore(changes: list[Change]) -> None:
    """Put back the modes :func:`lock_down` changed (in reverse order)."""
    for path, mode in reversed(changes):
        try:
            os.chmod(path, mode)
        except OSError:
            pass  # removed meanwhile


STATE = "dlgrade-lockdown.json"


def _state_dir() -> Path:
    """Where the sessions of this machine keep their shared record (root's ``/run``)."""
    return Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())


class Lockdown:
    """The modes closed for the sessions running now, restored when the last of them ends.

    Two locks on the record: ``<record>.lock`` (exclusive, while a session changes modes or
    restores them) and the record itself (shared, held by every session while it grades)."""

    def __init__(self, hidden: Iterable[Path], reachable: Iterable[Path], shared: Iterable[str | Path] = (),
                 state_dir: str | Path | None = None) -> None:
        self.path = Path(state_dir or _state_dir()) / STATE
        self._mutex = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._hold = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._mutex, fcntl.LOCK_EX)
        try:
            before = self._read()
            done = {p for p, _ in before}
            changes = lock_down(hidden, reachable, shared)
            self._write(before + [(str(p), m) for p, m in changes if str(p) not in done])
            self.changed = len(changes)
            fcntl.flock(self._hold, fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._mutex, fcntl.LOCK_UN)

    def _read(self) -> list[tuple[str, int]]:
        data = os.pread(self._hold, 1 << 24, 0)
        try:
            return [(str(p), int(m)) for p, m in json.loads(data or b"[]")]
        except (ValueError, TypeError):
            return []

    def _write(self, changes: list[tuple[str, int]]) -> None:
        os.ftruncate(self._hold, 0)
        os.pwrite(self._hold, json.dumps(changes).encode(), 0)

    def close(self) -> None:
        """Release this session's hold; the last session out restores every mode."""
        if self._hold < 0:
            return
        fcntl.flock(self._mutex, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._hold, fcntl.LOCK_UN)
            try:
                fcntl.flock(self._hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another session still grades: the last one restores
            else:
                restore([(Path(p), m) for p, m in self._read()])
                self._write([])
                fcntl.flock(self._hold, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self._mutex, fcntl.LOCK_UN)
            os.close(self._hold)
            os.close(self._mutex)
            self._hold = self._mutex = -1
