"""Which parts of the dlgrade package the student handout carries: whole zones, by folder.

The handout holds :data:`HANDOUT`: the top-level modules (the command line, which offers only
the command groups present, and the shared exceptions) and the zones that run on a student's
machine. None of them imports a zone left out (a test proves it), so the handout's checker works
without the reference, the graders or the catalogue of mistakes.
"""
from __future__ import annotations

from pathlib import Path

import dlgrade

PACKAGE_DIR = Path(dlgrade.__file__).resolve().parent

HANDOUT_TOP = ("__init__.py", "__main__.py", "cli.py", "errors.py")
HANDOUT_ZONES = ("exposed", "worker", "supervisor", "judging", "handout")
HANDOUT = HANDOUT_TOP + HANDOUT_ZONES


def _sources(folder: Path) -> list[str]:
    return [p.relative_to(PACKAGE_DIR).as_posix() for p in sorted(folder.rglob("*.py"))
            if "__pycache__" not in p.parts]


def package_files(only: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """``dlgrade/...`` source files (relative to the package's parent): all, or ``only`` these
    top-level modules and zone folders."""
    if only is None:
        names = _sources(PACKAGE_DIR)
    else:
        names = [n for part in only for n in ([part] if part.endswith(".py") else _sources(PACKAGE_DIR / part))]
    return {f"dlgrade/{name}": (PACKAGE_DIR / name).read_bytes() for name in names}


def handout_files() -> dict[str, bytes]:
    """The package files the student handout vendors."""
    return package_files(HANDOUT)
