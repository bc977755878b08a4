"""The submissions of a batch: each one a unique, filesystem-safe name, and where its results are."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


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


def read_results(results_dir: Path, entries: list[Entry]) -> dict[str, dict | None]:
    """Each entry's ``results.json`` (None where the grading run wrote none)."""
    found = {}
    for entry in entries:
        path = results_dir / entry.name / "results.json"
        found[entry.name] = json.loads(path.read_text()) if path.exists() else None
    return found
