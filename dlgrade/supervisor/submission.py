"""Turn what a student hands in (``.py``, ``.ipynb``, a folder or a zip) into code chunks."""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dlgrade.errors import UsageError

CHECK_TAG = "dlgrade-check"
SETUP_TAG = "dlgrade-setup"
# how the handout's own cells are known where a platform drops cell tags (Colab does): a line of
# their text (a student who writes one into a cell of theirs has that cell left out, nothing more)
SETUP_MARKER = "# dlgrade-setup"
CHECK_IMPORT = "from dlgrade.handout.checks import check"
_OUR_LINES = re.compile(rf"^\s*({re.escape(SETUP_MARKER)}\b|{re.escape(CHECK_IMPORT)}\b)", re.M)
MAX_SOURCE_BYTES = 2 * 1024 * 1024
# cell magics whose body is ordinary Python that IPython runs: the body is kept, the magic dropped
PYTHON_BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun", "memit", "memprofile"}
MAX_LISTED = 10  # code files named when none is the one wanted


@dataclass(frozen=True)
class Chunk:
    """A piece of code run as one unit: the whole ``.py`` file, or one notebook cell."""

    label: str
    source: str


@dataclass
class Submission:
    """A named submission and its code. ``problem`` is set when no code could be found."""

    name: str
    chunks: list[Chunk] = field(default_factory=list)
    path: Path | None = None
    problem: str | None = None


def is_dlgrade_cell(source: str, tags: object) -> bool:
    """Whether a code cell is one of the handout's own (a check cell, the set-up cell), which
    grading never runs: by its tag, or by its text where the tags were lost."""
    if isinstance(tags, list) and (CHECK_TAG in tags or SETUP_TAG in tags):
        return True
    return bool(_OUR_LINES.search(source))


def notebook_chunks(text: str, filename: str) -> list[Chunk]:
    """Code cells of a notebook, minus the handout's own (check cells, the set-up cell).

    IPython syntax (``%magic``, ``!shell``) is translated the way IPython does it, into
    ``get_ipython()`` calls, which the worker answers with a do-nothing stand-in.
    """
    import nbformat  # here: a .py submission does not pay for importing it
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise ValueError(f"{filename} is not a valid notebook ({type(exc).__name__})") from None
    transformer = TransformerManager()
    chunks = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list):  # nbformat joins these on read; a hand-made file may not
            source = "".join(map(str, source))
        if not isinstance(source, str):
            raise ValueError(f"{filename} cell {index} has no text")
        metadata = cell.get("metadata")
        if is_dlgrade_cell(source, metadata.get("tags") if isinstance(metadata, dict) else None):
            continue
        first, _, body = source.lstrip().partition("\n")
        if first.startswith("%%") and first[2:].split(" ")[0] in PYTHON_BODY_CELL_MAGICS:
            source = body
        try:
            source = transformer.transform_cell(source)
        except Exception:  # leave it to the worker to report the syntax error
            pass
        chunks.append(Chunk(f"{filename} cell {index}", source))
    return chunks


def _chunks_for(name: str, data: bytes) -> list[Chunk]:
    if len(data) > MAX_SOURCE_BYTES:
        raise ValueError(f"{name} is larger than {MAX_SOURCE_BYTES // 1024} KiB")
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb"):
        return notebook_chunks(text, name)
    return [Chunk(name, text)]


def _code_files(names: list[str]) -> list[str]:
    """The ``.py`` and ``.ipynb`` files among ``names`` (paths inside a folder or zip), hidden
    ones and macOS's ``__MACOSX`` left out."""
    return [n for n in names if n.endswith((".py", ".ipynb"))
            and not any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(n).parts)]


def _candidates(names: list[str], limit: int = MAX_LISTED) -> str:
    """What a folder or zip without the wanted file holds instead: its code files (the first
    ``limit``, sorted, non-printable characters shown as ``?``), else that it holds none."""
    code = sorted(_code_files(names))
    if not code:
        return "it holds no .py or .ipynb file"
    shown = ", ".join("".join(c if c.isprintable() else "?" for c in n) for n in code[:limit])
    more = f" and {len(code) - limit} more" if len(code) > limit else ""
    return f"it holds {shown}{more}"


def _pick(names: list[str], module_name: str) -> str | None:
    """Choose the submission file among ``names`` (paths inside a folder or zip)."""
    code = _code_files(names)
    for wanted in (f"{module_name}.py", f"{module_name}.ipynb"):
        exact = sorted((n for n in code if PurePosixPath(n).name == wanted), key=len)
        if exact:
            return exact[0]
    return code[0] if len(code) == 1 else None


def one_line(text: str, limit: int = 300) -> str:
    """``text`` as one printable line of at most ``limit`` characters (lone surrogates escaped)."""
    line = text.encode("utf-8", "backslashreplace").decode("utf-8").strip().splitlines()
    first = line[0] if line else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def pick_file(folder: Path, module_name: str) -> Path | None:
    """The file in ``folder`` (searched through) that would be graded: ``<module_name>.py`` or
    ``.ipynb``, else its one code file; None when there is none, or several."""
    chosen = _pick(_files_in(folder), module_name)
    return None if chosen is None else folder / chosen


def _files_in(folder: Path) -> list[str]:
    """The files in ``folder`` (searched through, links left out), as POSIX paths inside it."""
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def load_submission(path: Path, module_name: str, name: str | None = None) -> Submission:
    """Read a submission. Unreadable content gives a :class:`Submission` with ``problem`` set.

    Raises :class:`UsageError` only when ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file or folder: {path}")
    name = name or (path.stem if path.is_file() else path.name)
    wanted = f"{module_name}.py or {module_name}.ipynb"
    try:
        if path.is_dir():  # links are not followed: one could point at the reference
            files = _files_in(path)
            chosen = _pick(files, module_name)
            if chosen is None:
                return Submission(name, path=path, problem=f"no {wanted} found in the folder ({_candidates(files)})")
            return Submission(name, _chunks_for(chosen, (path / chosen).read_bytes()), path / chosen)
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                members = [i.filename for i in zf.infolist() if not i.is_dir()]
                chosen = _pick(members, module_name)
                if chosen is None:
                    return Submission(name, path=path, problem=f"no {wanted} found in the zip ({_candidates(members)})")
                return Submission(name, _chunks_for(chosen, zf.read(chosen)), path)
        if path.suffix in (".py", ".ipynb"):
            return Submission(name, _chunks_for(path.name, path.read_bytes()), path)
        return Submission(name, path=path, problem=f"{path.name} is not a .py, .ipynb, folder or .zip")
    except Exception as exc:  # untrusted bytes: whatever reading them raises is the submission's problem
        return Submission(name, path=path, problem=one_line(str(exc)) or type(exc).__name__)
