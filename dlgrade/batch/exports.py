"""Gradescope "export submissions": a folder or zip of per-student folders plus metadata.

An export has ``submission_metadata.yml`` at its top level (or inside its only top-level folder,
as when Gradescope wraps it in ``assignment_<id>_export/``) and one folder per submission, named
like ``submission_12345``, holding the files the student handed in. The metadata maps folder
names to ``:submitters`` (``:name``, ``:email``, ``:sid``), ``:created_at``, ``:score``, ...
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from dlgrade.errors import UsageError

METADATA = "submission_metadata.yml"
IGNORED = ("__MACOSX",)


@dataclass(frozen=True)
class ExportedSubmission:
    """One student folder of an export and who handed it in."""

    folder: str
    path: Path
    name: str  # the submitters' names, else their emails, else the folder name
    email: str


def _visible(part: str) -> bool:
    return not part.startswith(".") and part not in IGNORED


def _metadata_in_names(names: list[str]) -> str | None:
    """The path of the metadata file among ``names`` (POSIX paths), top level or one folder down."""
    if METADATA in names:
        return METADATA
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    tops = {t for t in tops if _visible(t) and t != METADATA}
    if len(tops) == 1:
        wrapped = f"{tops.pop()}/{METADATA}"
        if wrapped in names:
            return wrapped
    return None


def _zip_names(path: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(path) as zf:
            return [i.filename.rstrip("/") for i in zf.infolist()]
    except (zipfile.BadZipFile, OSError):
        return None  # not a readable zip: graded (and reported) as an ordinary submission


def is_zip_name(path: Path) -> bool:
    """Whether ``path`` is named as a zip (``.zip``, any case)."""
    return path.suffix.lower() == ".zip"


def check_zip(path: Path) -> None:
    """A one-line :class:`UsageError` naming ``path`` when it is not a zip that can be opened
    (corrupt, truncated, another kind of file); an unreadable one raises its :class:`OSError`."""
    try:
        with zipfile.ZipFile(path):
            pass
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable zip file ({exc or type(exc).__name__})") from None


def metadata_path(path: Path) -> str | None:
    """Where ``submission_metadata.yml`` is inside ``path`` (None when it is not an export)."""
    if path.is_dir():
        try:
            children = list(path.iterdir())
            names = [c.name for c in children] + [
                f"{c.name}/{METADATA}" for c in children if c.is_dir() and (c / METADATA).is_file()]
        except OSError:
            return None
        return _metadata_in_names(names)
    if path.is_file() and is_zip_name(path):
        names = _zip_names(path)
        return _metadata_in_names(names) if names else None
    return None


def is_export(path: Path) -> bool:
    """Whether ``path`` is a Gradescope export (folder or zip with ``submission_metadata.yml``)."""
    return metadata_path(path) is not None


def _field(mapping: object, key: str) -> str:
    """``mapping[':key']`` (or ``mapping['key']``) as a string without control characters (they
    could drive the instructor's terminal); '' when absent."""
    if not isinstance(mapping, dict):
        return ""
    value = mapping.get(f":{key}", mapping.get(key))
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _submitters(info: object) -> list[object]:
    if not isinstance(info, dict):
        return []
    found = info.get(":submitters", info.get("submitters"))
    return found if isinstance(found, list) else []


def read_metadata(path: Path, shown_as: str) -> dict:
    """``submission_metadata.yml`` as a dict; a one-line :class:`UsageError` when malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise UsageError(f"{shown_as}: {METADATA} is not valid YAML ({problem}{where})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{shown_as}: {METADATA} should map submission folders to their metadata, "
                         f"got a {type(data).__name__}")
    return {str(k): v for k, v in data.items()}


def describe(folder: str, info: object) -> tuple[str, str]:
    """(name, email) of a submission: names joined with ' & ', else the emails, else the folder."""
    people = _submitters(info)
    names = [n for n in (_field(p, "name") for p in people) if n]
    emails = [e for e in (_field(p, "email") for p in people) if e]
    name = " & ".join(names) or " & ".join(emails) or folder
    return " ".join(name.split()), "; ".join(emails)


def _extract(path: Path, into: Path) -> None:
    """Extract a zip into ``into``, skipping any member that would land outside it."""
    root = into.resolve()
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                target = (root / info.filename).resolve()
                if target == root or root not in target.parents:
                    continue
                zf.extract(info, root)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot extract the export ({exc or type(exc).__name__})") from None


def expand_export(path: Path, workdir: Path) -> list[ExportedSubmission]:
    """The submissions in the export at ``path``, sorted by name; a zip is extracted into ``workdir``."""
    where = metadata_path(path)
    if where is None:
        raise UsageError(f"{path} is not a Gradescope export (no {METADATA})")
    if path.is_file():
        _extract(path, workdir)
        base = workdir
    else:
        base = path
    meta_file = base / where
    root = meta_file.parent
    metadata = read_metadata(meta_file, str(path))
    found = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or not _visible(folder.name):
            continue
        name, email = describe(folder.name, metadata.get(folder.name))
        found.append(ExportedSubmission(folder.name, folder, name, email))
    if not found:
        raise UsageError(f"{path}: the export holds no submission folders")
    return sorted(found, key=lambda s: (s.name.casefold(), s.folder))
