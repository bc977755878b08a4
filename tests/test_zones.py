"""The package's trust zones: each folder says which side of the boundary it is on, and imports
follow the boundary (what the student handout vendors never imports what it leaves out)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dlgrade
from dlgrade.packaging.vendor import HANDOUT_TOP, HANDOUT_ZONES

PACKAGE = Path(dlgrade.__file__).resolve().parent
ZONES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
# the zones each vendored zone may import (besides itself and the top-level modules it vendors)
VENDORED_IMPORTS = {
    "exposed": set(),
    "worker": {"exposed"},
    "judging": {"exposed"},
    "supervisor": {"exposed", "judging"},
    "handout": {"exposed", "judging", "supervisor"},
}


def modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts]


def zone_of(path: Path) -> str:
    """``exposed``, ``worker``, ...; a top-level module's own file name (``cli.py``)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0]


def imported(path: Path) -> set[str]:
    """Every ``dlgrade...`` module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name == "dlgrade" or name.startswith("dlgrade.")}


def zone_of_module(name: str) -> str | None:
    """The zone (or top-level file) a ``dlgrade.x.y`` name lies in; None for the package itself."""
    parts = name.split(".")
    if len(parts) == 1:
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() else f"{parts[1]}.py"


def test_every_zone_says_which_side_it_is_on():
    assert set(HANDOUT_ZONES) <= set(ZONES)
    for zone in ZONES:
        doc = ast.get_docstring(ast.parse((PACKAGE / zone / "__init__.py").read_text()))
        assert doc and doc.startswith("Zone: "), f"dlgrade/{zone}/__init__.py must start 'Zone: <which side>'"


def test_every_package_folder_is_a_zone_or_inside_one():
    for folder in PACKAGE.rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__":
            assert (folder / "__init__.py").is_file(), f"{folder} is not a package"


@pytest.mark.parametrize("path", [p for p in modules() if zone_of(p) in HANDOUT_ZONES + HANDOUT_TOP],
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_vendored_code_imports_only_vendored_code(path):
    """What the handout carries imports nothing it leaves out (the grading, the reference, the catalogue)."""
    zone = zone_of(path)
    allowed = VENDORED_IMPORTS.get(zone, set(HANDOUT_ZONES)) | {zone, *HANDOUT_TOP}
    for name in imported(path):
        target = zone_of_module(name)
        assert target is None or target in allowed, f"{path.relative_to(PACKAGE)} imports {name} ({target})"


def test_no_other_zone_imports_the_worker_process():
    """The code that runs student code is started by module name (``python -I``), never imported
    by a process that holds anything."""
    for path in modules():
        if zone_of(path) != "worker":
            assert not {n for n in imported(path) if zone_of_module(n) == "worker"}, path


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from dlgrade.grading.oracle import ReferenceOracle\n    import dlgrade.batch.run\n")
    assert imported(sample) == {"dlgrade.grading.oracle", "dlgrade.grading.oracle.ReferenceOracle", "dlgrade.batch.run"}
