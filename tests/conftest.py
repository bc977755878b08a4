"""Shared fixtures for dlgrade's own tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request):
    """Each assignment in turn."""
    return get_assignment(request.param)


@pytest.fixture(scope="session")
def grader_calls(tmp_path_factory):
    """``grader_calls(name)``: ``(grader node id, check kind, request, expected)`` of every call the
    graders of assignment ``name`` make, hidden ones included (recorded once per session)."""
    from dlgrade.grading.child import record_public_checks
    from dlgrade.handout.checks import load_checks

    folder = tmp_path_factory.mktemp("all_checks")
    made: dict[str, list] = {}

    def calls(name: str) -> list[tuple[str, str, dict, dict]]:
        if name not in made:
            path = folder / f"{name}_all_checks.json"
            record_public_checks(get_assignment(name), path, everything=True)
            made[name] = [(test.nodeid, check.kind, check.request, check.expected)
                          for test in load_checks(path).tests for check in test.checks
                          if check.request.get("op") == "call"]
        return made[name]

    return calls


ALT_DIR = REPO / "tests" / "alt_solutions"  # correct implementations in other styles than the reference


def alternative_styles(name: str) -> dict[str, str]:
    """``{style: source}`` of ``tests/alt_solutions/<name>/*.py``, each a correct submission of
    assignment ``name`` in its own style, as a student hands it in: a ``# GIVEN FROM`` line
    stands for the code the handout gives (another assignment's reference), expanded as there."""
    from dlgrade.authoring.given import expand_given
    from dlgrade.authoring.registry import Assignment

    return {path.stem: expand_given(path.read_text(), lambda given: Assignment(given).solution_source)
            for path in sorted((ALT_DIR / name).glob("*.py"))}


def reference_source(name: str) -> str:
    """The reference solution of ``name`` without its solution markers."""
    return get_assignment(name).reference_source


def bare_python(folder: Path, paths: list[str], sitecustomize: str | None = None) -> Path:
    """A throwaway venv's interpreter in ``folder`` that sees ``paths`` (each put on ``sys.path``
    as it is: the ``.pth`` files in them are not run, so an editable install of dlgrade is not
    found) and runs ``sitecustomize`` in every process it starts, ``python -I`` included."""
    import subprocess

    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site_packages = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        check=True, capture_output=True, text=True).stdout.strip())
    (site_packages / "dlgrade_paths.pth").write_text("".join(f"{p}\n" for p in dict.fromkeys(paths)))
    if sitecustomize is not None:
        (site_packages / "sitecustomize.py").write_text(sitecustomize)
    return python


def installed_packages() -> list[str]:
    """This environment's package folders (torch, numpy, ipykernel...)."""
    import sysconfig

    return [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]


def fill_notebook(nb, assignment, source: str):
    """``nb`` (a handout notebook, changed in place and returned) with each question's code cell
    replaced by that question's code from ``source`` (a whole module)."""
    import re

    from dlgrade.authoring.notebook import split_questions
    from dlgrade.supervisor.submission import is_dlgrade_cell

    targets = [q.target for q in assignment.questions]
    _, chunks = split_questions(source, targets)
    code = dict(zip(targets, chunks))
    replaced = []
    for cell in nb.cells:
        if cell.cell_type != "code" or is_dlgrade_cell(cell.source, cell.metadata.get("tags")):
            continue
        found = [t for t in targets if re.search(rf"^(class|def) {t}\b", cell.source, re.M)]
        if found:
            cell.source = code[found[0]]
            replaced.append(found[0])
    assert sorted(replaced) == sorted(targets), replaced
    return nb


def dlgrade_cmd(*args: str) -> list[str]:
    """Command line running the dlgrade CLI with this interpreter."""
    return [sys.executable, "-m", "dlgrade", *args]


def confinement_tier() -> str:
    """The tier grading gets on this machine: ``namespaces``, ``container`` or ``none``."""
    from dlgrade.supervisor import tier

    return tier.mode().tier


# the adversarial suites need a tier that confines (without one the attacks would hit the machine)
NEEDS_CONFINEMENT = dict(condition=confinement_tier() == "none",
                         reason="needs a confinement tier (bubblewrap's namespaces, or root for the container tier); "
                                "without one these attacks would hit the machine")


# The confinement tiers (container, Docker) re-run both adversarial suites with one assignment's
# hostile submissions: the attacks, the worker and its walls are the same for every assignment,
# and the host tier grades all four (pytest -k: every test but the other assignments' ones).
TIER_RERUN_ASSIGNMENT = "rnn"
TIER_RERUN_SELECTION = ("-k", " and ".join(f"not {name}" for name in ASSIGNMENTS if name != TIER_RERUN_ASSIGNMENT))


def unreadable_error() -> str:
    """What reading a trusted file raises in a worker: hidden from view (namespaces) or closed to
    its uid (container)."""
    return "PermissionError" if confinement_tier() == "container" else "FileNotFoundError"


def worker_uids() -> set[int]:
    """The uids workers run as (``nobody`` as root with namespaces; a range in the container tier)."""
    from dlgrade.supervisor.policy import POLICY

    first, count = POLICY.container_uids
    return {POLICY.uid, *range(first, first + count)}
