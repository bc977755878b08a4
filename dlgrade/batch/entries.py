"""The submissions of a batch: each one a unique, filesystem-safe name, and where its results are."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dlgrade.errors import UsageError


@dataclass(frozen=True)
class Entry:
    """A submission to grade under a unique, filesystem-safe ``name``.

    ``label`` is the row name in the gradebook and the report (a student's name for a Gradescope
    export; empty means ``name``); ``email`` is empty when unknown.
    """

    name: str
    path: Path
    label: str = ""
    email: str = ""

    @property
    def display(self) -> str:
        """The name shown to the instructor."""
        return self.label or self.name


MAX_NAME_CHARS = 60


def safe_name(text: str) -> str:
    """``text`` as a folder name: word characters and ``.@+-`` only, at most 60 characters."""
    base = re.sub(r"[^\w.@+-]+", "_", text).strip("._")[:MAX_NAME_CHARS].rstrip("._")
    return base or "submission"


def submission_name(path: Path) -> str:
    """A safe folder name for a submission: its file stem or folder name."""
    resolved = path.resolve()
    return safe_name(resolved.stem if resolved.is_file() else resolved.name)


def uniquify(bases: list[str]) -> list[str]:
    """``bases`` made unique by suffixing ``-2``, ``-3`` (compared ignoring case, as on macOS)."""
    reserved = {b.casefold() for b in bases}  # a suffixed name must not take another one's own name
    names, used = [], set()
    for base in bases:
        name, n = base, 1
        while name.casefold() in used or (name != base and name.casefold() in reserved):
            n += 1
            name = f"{base}-{n}"
        used.add(name.casefold())
        names.append(name)
    return names


def _identity(path: Path) -> tuple[int, int]:
    """What makes two spellings of a path the same file or folder (``a.py``, ``./a.py``, a link to it)."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def given_once(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """``paths`` with each file or folder once, in the order first given, however it was spelled;
    and a note per one given more than once (it is graded once)."""
    first: dict[tuple[int, int], Path] = {}
    spellings: dict[tuple[int, int], list[str]] = {}
    for path in paths:
        key = _identity(path)
        first.setdefault(key, path)
        spellings.setdefault(key, []).append(str(path))
    notes = []
    for key, seen in spellings.items():
        if len(seen) > 1:
            times = "twice" if len(seen) == 2 else f"{len(seen)} times"
            others = sorted(set(seen) - {seen[0]})
            also = f" (also as {', '.join(others)})" if others else ""
            notes.append(f"{seen[0]} given {times}{also}; graded once")
    return list(first.values()), notes


def existing(paths: list[Path]) -> list[Path]:
    """``paths``, each checked to exist (a one-line :class:`UsageError` for the first that does not)."""
    for path in paths:
        if not os.path.exists(path):
            raise UsageError(f"no such file or folder: {path}")
    return paths


def read_results(results_dir: Path, entries: list[Entry]) -> dict[str, dict | None]:
    """Each entry's ``results.json`` (None where the grading run wrote none)."""
    found = {}
    for entry in entries:
        path = results_dir / entry.name / "results.json"
        found[entry.name] = json.loads(path.read_text()) if path.exists() else None
    return found
