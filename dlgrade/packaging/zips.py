"""Reproducible zip files: sorted entries, fixed timestamps and permissions."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def zip_bytes(members: Mapping[str, bytes | str], executable: frozenset[str] = frozenset()) -> bytes:
    """A zip of ``members`` (archive name -> content) whose bytes depend on them alone."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            data = members[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.create_system = 3
            zf.writestr(info, data.encode() if isinstance(data, str) else data)
    return buffer.getvalue()


def write_zip(path: Path, members: Mapping[str, bytes | str], executable: frozenset[str] = frozenset()) -> Path:
    """Write ``members`` (archive name -> content) to ``path`` so equal inputs give equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(members, executable))
    return path


def read_zip(path: Path) -> tuple[dict[str, bytes], frozenset[str]]:
    """Members of a zip (files only) and the names marked executable."""
    members, executable = {}, set()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            members[info.filename] = zf.read(info)
            if (info.external_attr >> 16) & 0o111:
                executable.add(info.filename)
    return members, frozenset(executable)


def tree_members(folder: Path, prefix: str = "", exclude: tuple[str, ...] = ("__pycache__",)) -> dict[str, bytes]:
    """Every file below ``folder`` as archive members under ``prefix``."""
    return {prefix + p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part in exclude for part in p.relative_to(folder).parts)
            and p.suffix != ".pyc"}
