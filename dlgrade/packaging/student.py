"""``student.zip``: the handout a student downloads."""
from __future__ import annotations

import tempfile
from pathlib import Path

from dlgrade.authoring.generate import checks_file, text_files
from dlgrade.authoring.notebook import build_notebook, notebook_text
from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.setup_cell import setup_payload
from dlgrade.authoring.translations import assignment_text
from dlgrade.errors import UsageError
from dlgrade.judging.i18n import DEFAULT_LANG, Messages
from dlgrade.packaging.vendor import handout_files

# What the checker needs, and nothing a student has already: pip keeps an installed torch in the
# range (it never reinstalls a satisfied requirement), and without one the extra index makes it
# take PyTorch's CPU build (its "+cpu" versions sort above PyPI's, which are CUDA builds on Linux).
REQUIREMENTS = """\
# pip install -r requirements.txt: keeps the torch you have (2.2 or newer); without one, installs
# PyTorch's CPU build (about 200 MB) instead of the several-GB CUDA build a plain `pip install torch`
# gets on Linux. To open the notebook: `pip install jupyterlab`, or VS Code's Jupyter extension.
--extra-index-url https://download.pytorch.org/whl/cpu
torch>=2.2,<3
numpy>=1.26
nbformat>=5.9
ipykernel>=6.29
ipython>=8
"""

def _checks(assignment: Assignment, lang: str) -> bytes:
    """The public checks: the committed ones in English, recorded afresh in another language."""
    if lang != DEFAULT_LANG:
        with tempfile.TemporaryDirectory(prefix="dlgrade-build-") as tmp:
            return checks_file(assignment, Path(tmp) / assignment.checks_filename, lang).read_bytes()
    checks = assignment.template_dir / assignment.checks_filename
    if not checks.exists():
        raise UsageError(f"{checks} is missing: run `dlgrade generate` first")
    return checks.read_bytes()


def student_members(assignment: Assignment, lang: str = DEFAULT_LANG) -> dict[str, bytes | str]:
    """``student.zip``'s files, in ``lang``, under a top-level ``<name>/`` folder: notebook,
    skeleton, public checks, requirements, README, checker."""
    members: dict[str, bytes | str] = {}
    for name, text in text_files(assignment, lang).items():
        committed = assignment.template_dir / name
        if lang == DEFAULT_LANG and (not committed.exists() or committed.read_text() != text):
            raise UsageError(f"{committed} is out of date: run `dlgrade generate` first")
        members[name] = text
    checks = _checks(assignment, lang)
    # the notebook carries the checks and their checker, for where it is opened alone (Colab, Kaggle)
    payload = setup_payload({**handout_files(), assignment.checks_filename: checks})
    stub = members[f"{assignment.module_name}.py"]
    members[f"{assignment.module_name}.ipynb"] = notebook_text(build_notebook(assignment, stub, lang, payload))
    members[assignment.checks_filename] = checks
    members["requirements.txt"] = REQUIREMENTS
    t = Messages(lang)
    members["README.md"] = t("handout.readme", title=assignment_text(assignment, lang).title,
                             m=assignment.module_name, hidden=t("handout.hidden"))
    members.update(handout_files())
    return {f"{assignment.name}/{name}": data for name, data in members.items()}

