"""The notebook's set-up cell: the public checks and their checker, carried in the notebook itself.

Colab, Kaggle and a notebook opened on its own have no folder around it: no ``<a>_checks.json``
and no ``dlgrade/`` beside it. So the handout's notebook carries both, as one zip (base64, with
its SHA-256) in its first code cell; running that cell unpacks them into a temporary folder,
puts the checker first on ``sys.path`` and names the checks file in ``DLGRADE_CHECKS``, which the
check cells read (:func:`dlgrade.handout.checks.check`). No network, nothing installed; the cell
is skipped when a submission is graded (:func:`dlgrade.supervisor.submission.is_dlgrade_cell`).

The committed template's copy carries nothing (its files lie beside it); ``dlgrade build`` fills
it in (:func:`setup_payload`).
"""
from __future__ import annotations

import ast
import base64
import hashlib
import io
import string
import zipfile

from dlgrade.handout.checks import CHECKS_ENV
from dlgrade.judging.i18n import Messages
from dlgrade.packaging.zips import zip_bytes
from dlgrade.supervisor.submission import SETUP_MARKER

LINE = 100  # characters of base64 per line of the cell: editors cope with many short lines

# Runs in the student's kernel, where no dlgrade may exist yet: the standard library only.
CODE = string.Template('''\
#@title $title
$comment
$marker
_DLGRADE_CHECKS = "$checks"
_DLGRADE_SHA256 = "$digest"
_DLGRADE_PAYLOAD = ($payload)


def _dlgrade_setup(payload, digest, checks):
    import base64, hashlib, io, os, sys, tempfile, zipfile
    if not payload:  # this copy carries nothing: the files lie beside the notebook
        return
    data = base64.b64decode(payload)
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError($changed)
    folder = tempfile.mkdtemp(prefix="dlgrade-")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
    for name in [m for m in sys.modules if m == "dlgrade" or m.startswith("dlgrade.")]:
        del sys.modules[name]  # a copy imported earlier must not answer for this one
    sys.path.insert(0, folder)
    os.environ["$env"] = os.path.join(folder, checks)
    print($ready)


_dlgrade_setup(_DLGRADE_PAYLOAD, _DLGRADE_SHA256, _DLGRADE_CHECKS)
''')


def setup_payload(files: dict[str, bytes]) -> bytes:
    """The zip a set-up cell carries: ``files`` (archive name -> bytes), reproducibly."""
    return zip_bytes(files)


def setup_cell_source(checks_filename: str, t: Messages, payload: bytes | None = None) -> str:
    """The set-up cell's code in ``t``'s language, carrying ``payload`` (None: nothing)."""
    encoded = base64.b64encode(payload).decode("ascii") if payload else ""
    lines = [encoded[i:i + LINE] for i in range(0, len(encoded), LINE)] or [""]
    literal = "\n" + "".join(f'    "{line}"\n' for line in lines) if len(lines) > 1 else f'"{lines[0]}"'
    comment = "\n".join(f"# {line}" for line in t("notebook.setup_comment").splitlines())
    digest = hashlib.sha256(payload).hexdigest() if payload else ""
    return CODE.substitute(title=t("notebook.setup_title"), comment=comment, marker=SETUP_MARKER,
                           digest=digest, checks=checks_filename,
                           payload=literal, changed=repr(t("notebook.setup_changed")), env=CHECKS_ENV,
                           ready=repr(t("notebook.setup_ready")))


def carried_files(source: str) -> dict[str, bytes]:
    """The files a set-up cell's ``source`` carries (archive name -> bytes), read back without
    running it, its digest checked: what a notebook gives whoever opens it."""
    tree = ast.parse(source)
    values = {node.targets[0].id: node.value for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    payload = ast.literal_eval(values["_DLGRADE_PAYLOAD"])
    if not payload:
        return {}
    data = base64.b64decode(payload)
    if hashlib.sha256(data).hexdigest() != ast.literal_eval(values["_DLGRADE_SHA256"]):
        raise ValueError("the set-up cell's payload does not match its digest")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
