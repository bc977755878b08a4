"""``autograder.zip``: made by ``otter generate``, graded by dlgrade, never in Otter's kernel.

Why ``otter generate`` (not ``otter assign``): our source of truth is the reference ``.py`` and
pytest graders, not an annotated master notebook; ``generate`` packages exactly what we give it
(config, requirements, support files) into the zip Gradescope and ``otter run`` expect. Then two
files of the zip change: ``run_otter.py`` (what Gradescope's ``run_autograder`` runs) calls
dlgrade instead of Otter's grading (:data:`RUN_OTTER`), and ``setup.sh`` also installs
bubblewrap and libseccomp. ``otter run``, which ignores ``run_otter.py``, reaches dlgrade through
the plugin named in ``otter_config.json``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.translations import translation_path
from dlgrade.gradescope import otter_adapter
from dlgrade.gradescope.autograde import KIT_DIR, PLUGIN
from dlgrade.judging.i18n import DEFAULT_LANG
from dlgrade.packaging.wheel import wheel
from dlgrade.packaging.zips import read_zip, tree_members, write_zip

# Otter needs at least one test file; dlgrade's graders replace its results (see otter_plugin).
PLACEHOLDER_TEST = '''\
"""Placeholder: grading is done by dlgrade (dlgrade.gradescope.otter_plugin), not by Otter test files."""
from otter.test_files import test_case

OK_FORMAT = False

name = "dlgrade"
points = 0


@test_case(points=0, hidden=True)
def graded_by_dlgrade():
    pass
'''

# Gradescope's run_autograder runs `python /autograder/source/run_otter.py`: grade with dlgrade, not
# with Otter's kernel (see dlgrade.gradescope.autograde)
RUN_OTTER = '''\
"""Gradescope runs this: dlgrade grades the submission; Otter's kernel never runs (dlgrade.gradescope.autograde)."""
import sys

sys.path[:] = [p for p in sys.path if p not in ("", "/autograder/source", "/autograder/submission")]
from dlgrade.gradescope.autograde import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("/autograder"))
'''

PYTHON_VERSION = "3.11"  # the version dlgrade is tested with
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GRADESCOPE_SETTINGS = {"memory": "2 GB or more (4 GB recommended)", "timeout": "10 minutes (the default)"}


def kit_members(assignment: Assignment, lang: str = DEFAULT_LANG) -> dict[str, bytes]:
    """The trusted files the graders need: graders, reference, assignment spec, catalogue and
    the translation students read."""
    members = tree_members(assignment.graders_dir, f"autograder/{assignment.name}/")
    members[f"solutions/{assignment.name}.py"] = assignment.solution_source.encode()  # GIVEN FROM lines expanded
    names = ["assignment.py", "mistakes.py"] + ([translation_path(assignment, lang).name] if lang != DEFAULT_LANG else [])
    for name in names:
        members[f"assignments/{assignment.name}/{name}"] = (assignment.spec_dir / name).read_bytes()
    return members


def requirements(wheel_name: str) -> str:
    """Grading environment: CPU torch and dlgrade itself (from the wheel shipped in the zip)."""
    return (f"--extra-index-url {TORCH_CPU_INDEX}\n"
            "torch==2.13.0+cpu\n"
            f"/autograder/source/files/{KIT_DIR}/{wheel_name}\n")


def otter_config(assignment: Assignment, lang: str = DEFAULT_LANG) -> dict:
    plugin = {"assignment": assignment.name, "lang": lang}
    return {"lang": "python", "plugins": [{PLUGIN: plugin}],
            "show_stdout": False, "print_summary": True}


def build_autograder_zip(assignment: Assignment, path: Path, lang: str = DEFAULT_LANG) -> Path:
    """Stage config, requirements, placeholder test and kit; run ``otter generate``; normalize."""
    otter_adapter.require_supported_otter()
    wheel_name, wheel_members = wheel(requires=("torch>=2.2,<3", "numpy>=1.26", "pytest>=8", "nbformat>=5.9",
                                                "ipython>=8", "pyseccomp>=0.1.2; sys_platform == 'linux'",
                                                "landlock>=1.0.0.dev5; sys_platform == 'linux'"))
    with tempfile.TemporaryDirectory(prefix="dlgrade-build-") as tmp:
        stage = Path(tmp)
        (stage / "tests").mkdir()
        (stage / "tests" / "dlgrade.py").write_text(PLACEHOLDER_TEST)
        (stage / "otter_config.json").write_text(json.dumps(otter_config(assignment, lang), indent=2))
        (stage / "requirements.txt").write_text(requirements(wheel_name))
        kit = stage / KIT_DIR
        for name, data in kit_members(assignment, lang).items():
            (kit / name).parent.mkdir(parents=True, exist_ok=True)
            (kit / name).write_bytes(data)
        write_zip(kit / wheel_name, wheel_members)
        out = stage / "autograder.zip"
        proc = subprocess.run(
            [sys.executable, "-m", "otter", "generate", "--tests-dir", "tests", "--config", "otter_config.json",
             "--requirements", "requirements.txt", "--python-version", PYTHON_VERSION,
             "--output-path", str(out), KIT_DIR],
            cwd=stage, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"otter generate failed:\n{proc.stdout}{proc.stderr}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(out.read_bytes())
    members, executable = read_zip(path)
    members["setup.sh"] = add_bubblewrap(members["setup.sh"].decode()).encode()
    members["run_otter.py"] = RUN_OTTER.encode()
    return write_zip(path, members, executable)


def add_bubblewrap(setup_sh: str) -> str:
    """Otter's ``setup.sh`` plus Debian's bubblewrap and libseccomp, which confine dlgrade's worker
    (where the container cannot create namespaces, the container tier: a uid per worker, seccomp)."""
    line = "apt-get install -y bubblewrap libseccomp2 || echo 'dlgrade: bubblewrap or libseccomp2 not installed'\n"
    anchor = "apt-get install -y wget"
    if anchor not in setup_sh:
        return setup_sh + "\n" + line
    head, tail = setup_sh.split(anchor, 1)
    first_line_end = tail.index("\n") + 1
    return head + anchor + tail[:first_line_end] + line + tail[first_line_end:]
