"""A pure-Python wheel of the dlgrade package, for the grading image (built without network)."""
from __future__ import annotations

import base64
import hashlib

import dlgrade
from dlgrade.packaging.vendor import package_files


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
