"""The parts of the dlgrade package that run on a student's machine or in a grading server.

The student handout vendors :data:`STUDENT_MODULES` (``dlgrade check`` and the notebook check
cells, no grading code); the autograder installs the whole package from a wheel built here.
"""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import dlgrade

PACKAGE_DIR = Path(dlgrade.__file__).resolve().parent

STUDENT_MODULES = (
    "__init__.py", "__main__.py", "cli.py", "errors.py", "registry.py", "checks.py", "feedback.py",
    "tensorio.py", "execute.py", "submission.py", "i18n.py", "messages/__init__.py", "messages/en.py",
    "messages/ko.py",
    "worker/__init__.py", "worker/protocol.py", "worker/server.py", "worker/client.py", "worker/sandbox.py",
    "worker/limits.py", "worker/launcher.py",
)


def package_files(only: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """``dlgrade/...`` source files (relative to the package's parent), all or ``only`` these."""
    names = only or tuple(p.relative_to(PACKAGE_DIR).as_posix() for p in sorted(PACKAGE_DIR.rglob("*.py"))
                          if "__pycache__" not in p.parts)
    return {f"dlgrade/{name}": (PACKAGE_DIR / name).read_bytes() for name in names}


def wheel(requires: tuple[str, ...] = ()) -> tuple[str, dict[str, bytes]]:
    """A pure-Python wheel of the package: ``(file name, members)`` to write with ``write_zip``."""
    version = dlgrade.__version__
    dist_info = f"dlgrade-{version}.dist-info"
    members = package_files()
    members[f"{dist_info}/METADATA"] = ("Metadata-Version: 2.1\nName: dlgrade\n"
                                        f"Version: {version}\n"
                                        + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode()
    members[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: dlgrade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{dist_info}/entry_points.txt"] = b"[console_scripts]\ndlgrade = dlgrade.cli:main\n"
    record = []
    for name in sorted(members):
        digest = base64.urlsafe_b64encode(hashlib.sha256(members[name]).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(members[name])}")
    record.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return f"dlgrade-{version}-py3-none-any.whl", members
