"""The handout wherever students open it: the notebook alone (Colab, Kaggle, a download), saved
back from Colab, on any device.

* The notebook carries its public checks and their checker in its set-up cell
  (:mod:`dlgrade.authoring.setup_cell`). Run as Colab lays it out, alone in an empty folder, in a
  kernel where no dlgrade is installed, its check cells work after that one cell.
* A notebook saved by Colab (its metadata, outputs, no cell tags, ``!pip``, ``%magic`` and a
  cell mounting Drive) is graded by ``dlgrade grade`` and ``otter run`` like any other: the shell
  and magic lines and Colab's own modules do nothing in the worker, the handout's own cells are
  known by their text.
* Answers on a device the CPU cannot read (``meta``, a fake tensor) are refused with a message;
  code that asks for CUDA where there is none is told to use the inputs' device.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from conftest import bare_python, dlgrade_cmd, fill_notebook, installed_packages

from dlgrade.authoring.kernels import execute_notebook
from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.exposed import execute, wire
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.handout import checks as handout_checks
from dlgrade.judging.feedback import feedback
from dlgrade.packaging.student import student_members
from dlgrade.supervisor.submission import CHECK_TAG, SETUP_TAG, is_dlgrade_cell

SUMMARY = re.compile(r"^(\d+) of (\d+) public checks passed\.$", re.M)


@pytest.fixture(scope="module")
def colab_python(tmp_path_factory) -> Path:
    """An interpreter with torch, numpy and ipykernel, and no dlgrade: what Colab's kernel has."""
    return bare_python(tmp_path_factory.mktemp("colab") / "venv", installed_packages())


def handout_notebook(name: str) -> nbformat.NotebookNode:
    """The notebook of ``name``'s student.zip (its set-up cell carrying the checks)."""
    return nbformat.reads(student_members(get_assignment(name))[f"{name}/{name}.ipynb"], as_version=4)


def run_alone(nb: nbformat.NotebookNode, folder: Path, python: Path) -> nbformat.NotebookNode:
    """``nb`` executed as Colab runs an uploaded notebook: alone in ``folder``, cell by cell."""
    folder.mkdir(parents=True, exist_ok=True)
    assert list(folder.iterdir()) == []
    return execute_notebook(nb, folder, timeout=300, python=python, allow_errors=True)


def printed(cell) -> str:
    return "".join(out.get("text", "") if out.get("output_type") == "stream" else
                   "\n".join(out.get("traceback", [])) for out in cell.get("outputs", []))


def check_reports(nb: nbformat.NotebookNode) -> list[str]:
    return [printed(cell) for cell in nb.cells if cell.cell_type == "code"
            and CHECK_TAG in cell.metadata.get("tags", [])]


# -- the notebook alone ----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_notebook_alone_passes_its_checks_after_its_set_up_cell(name, colab_python, tmp_path):
    assignment = get_assignment(name)
    nb = fill_notebook(handout_notebook(name), assignment, assignment.solution_source)
    folder = tmp_path / "content"
    run_alone(nb, folder, colab_python)
    errors = [out for cell in nb.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == [], errors[0].get("traceback") if errors else None
    setup = next(cell for cell in nb.cells if SETUP_TAG in cell.metadata.get("tags", []))
    assert "The public checks are ready" in printed(setup)
    reports = check_reports(nb)
    assert len(reports) == len(assignment.questions)
    for report in reports:
        passed, total = SUMMARY.search(report).groups()
        assert passed == total and "[FAIL]" not in report, report
    values = [out for cell in nb.cells if CHECK_TAG in cell.metadata.get("tags", [])
              for out in cell.get("outputs", []) if out.get("output_type") == "execute_result"]
    assert values == []  # no stray True/False after a report
    assert list(folder.iterdir()) == []  # nothing written beside the notebook


@pytest.mark.slow
def test_the_notebook_alone_gives_a_catalogued_mistakes_hint(colab_python, tmp_path):
    assignment = get_assignment("rnn")
    mistake = next(m for m in assignment.mistakes if m.id == "lstm_gate_order_ifog")
    source = ReferenceOracle(assignment).mistake_source(mistake)
    nb = run_alone(fill_notebook(handout_notebook("rnn"), assignment, source), tmp_path / "content", colab_python)
    lstm_cell = check_reports(nb)[0]
    assert "[FAIL]" in lstm_cell and f"    Hint: {mistake.hint}" in lstm_cell.splitlines(), lstm_cell


@pytest.mark.slow
def test_a_check_cell_before_the_set_up_cell_says_what_to_run(colab_python, tmp_path):
    nb = handout_notebook("rnn")
    nb.cells = [cell for cell in nb.cells if SETUP_TAG not in cell.metadata.get("tags", [])]
    run_alone(nb, tmp_path / "content", colab_python)
    first = next(cell for cell in nb.cells if CHECK_TAG in cell.metadata.get("tags", []))
    assert "Run the set-up cell at the top of the notebook first." in printed(first)


def test_a_set_up_cell_whose_payload_changed_refuses_to_run(colab_python, tmp_path):
    setup = next(cell for cell in handout_notebook("mdn").cells if SETUP_TAG in cell.metadata.get("tags", []))
    lines = setup.source.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith('    "') and len(line) > 40)
    lines[at] = lines[at][:10] + ("A" if lines[at][10] != "A" else "B") + lines[at][11:]
    script = tmp_path / "setup_cell.py"
    script.write_text("\n".join(lines))
    proc = subprocess.run([colab_python, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0 and "This set-up cell was changed" in proc.stderr, proc.stderr


# -- a notebook saved by Colab, graded ---------------------------------------------------------------

COLAB_CELLS = [
    "!pip install -q torch numpy",
    "%matplotlib inline",
    "from google.colab import drive\ndrive.mount('/content/drive')",
    "%cd /content/drive/MyDrive/homework",
    "%%capture\n!nvidia-smi",
    "import torch\ndevice = 'cuda' if torch.cuda.is_available() else 'cpu'\nprint(device)",
]


def as_saved_by_colab(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` as Colab saves it after a run: its notebook metadata (GPU runtime, widgets), each
    cell's id and Colab metadata instead of tags (Colab keeps no tags), outputs, and the lines
    students add there (pip, magics, mounting Drive, picking a device)."""
    saved = copy.deepcopy(nb)
    saved.metadata = {"colab": {"provenance": [], "gpuType": "T4"}, "accelerator": "GPU",
                      "kernelspec": {"name": "python3", "display_name": "Python 3"},
                      "language_info": {"name": "python"},
                      "widgets": {"application/vnd.jupyter.widget-state+json": {
                          "1f2e": {"model_module": "@jupyter-widgets/controls", "model_name": "HBoxModel",
                                   "model_module_version": "1.5.0", "state": {}}}}}
    extra = [nbformat.v4.new_code_cell(source) for source in COLAB_CELLS]
    saved.cells[1:1] = extra
    for index, cell in enumerate(saved.cells):
        cell.metadata = {"id": f"colab{index:04d}"} | ({"colab": {"base_uri": "https://localhost:8080/"},
                                                        "outputId": f"out{index:04d}"}
                                                       if cell.cell_type == "code" else {})
        if cell.cell_type == "code" and not cell.get("outputs"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran in Colab\n")]
            cell.execution_count = index
    return saved


def test_colab_drops_the_tags_and_the_handout_cells_are_known_by_their_text():
    saved = as_saved_by_colab(handout_notebook("attention"))
    ours = [cell for cell in saved.cells if cell.cell_type == "code" and is_dlgrade_cell(cell.source, None)]
    assert len(ours) == 1 + len(get_assignment("attention").questions)  # the set-up cell and the check cells
    assert all("tags" not in cell.metadata for cell in saved.cells)


@pytest.fixture(scope="module")
def colab_graded(tmp_path_factory) -> dict:
    """Colab-saved notebooks of attention graded by ``dlgrade grade`` (one batch) and, the correct
    one, by ``otter run`` of the built autograder.zip."""
    root = tmp_path_factory.mktemp("colab-graded")
    assignment = get_assignment("attention")
    oracle = ReferenceOracle(assignment)
    mistake = next(m for m in assignment.mistakes if m.id == "no_scaling")
    sources = {"correct": assignment.solution_source, "mistake": oracle.mistake_source(mistake),
               "cuda": assignment.solution_source.replace("scores = Q @ K.transpose(-2, -1)",
                                                          "scores = Q.cuda() @ K.transpose(-2, -1).cuda()", 1)}
    assert sources["cuda"] != sources["correct"]
    paths = []
    for case, source in sources.items():
        path = root / case / "attention.ipynb"
        path.parent.mkdir()
        nb = as_saved_by_colab(fill_notebook(handout_notebook("attention"), assignment, source))
        path.write_text(nbformat.writes(nb))
        paths.append(path.parent)
    out = root / "out"
    proc = subprocess.run(dlgrade_cmd("grade", "--assignment", "attention", "--out", str(out), *map(str, paths)),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graded = {case: json.loads((out / case / "results.json").read_text()) for case in sources}
    dist = root / "dist"
    built = subprocess.run(dlgrade_cmd("build", "--assignment", "attention", "--out", str(dist)),
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout + built.stderr
    otter = Path(sys.executable).parent / "otter"
    by_otter = {}
    for case, folder in (("correct", paths[0]), ("mistake", paths[1])):
        run_dir = root / f"otter-{case}"
        run_dir.mkdir()
        ran = subprocess.run([str(otter), "run", "-a", str(dist / "attention" / "autograder.zip"), "-o", str(run_dir),
                              "--no-logo", str(folder / "attention.ipynb")], capture_output=True, text=True,
                             timeout=900, cwd=run_dir)
        assert (run_dir / "results.json").exists(), ran.stdout + ran.stderr
        by_otter[case] = json.loads((run_dir / "results.json").read_text())
    return {"graded": graded, "otter": by_otter, "mistake": mistake}


@pytest.mark.slow
def test_dlgrade_grade_gives_a_correct_colab_notebook_full_marks(colab_graded):
    results = colab_graded["graded"]["correct"]
    assert results["score"] == results["max_score"] > 0, [t["output"] for t in results["tests"] if t["score"] == 0]
    assert "loaded" not in results["output"]  # the pip, magic, Drive and device cells load as nothing


@pytest.mark.slow
def test_dlgrade_grade_finds_the_mistake_in_a_colab_notebook(colab_graded):
    results = colab_graded["graded"]["mistake"]
    assert 0 < results["score"] < results["max_score"]
    assert any(f"Hint: {colab_graded['mistake'].hint}" in t["output"] for t in results["tests"])


@pytest.mark.slow
def test_code_that_asks_for_cuda_is_told_to_use_the_inputs_device(colab_graded):
    results = colab_graded["graded"]["cuda"]
    assert results["score"] < results["max_score"]
    failed = [t["output"] for t in results["tests"] if t["score"] < t["max_score"]]
    assert failed and all("Make new tensors on the inputs' device" in text for text in failed), failed


@pytest.mark.slow
def test_otter_run_gives_a_correct_colab_notebook_full_marks(colab_graded):
    results = colab_graded["otter"]["correct"]
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0


@pytest.mark.slow
def test_otter_run_finds_the_mistake_in_a_colab_notebook(colab_graded):
    results = colab_graded["otter"]["mistake"]
    assert 0 < results["score"] < sum(t["max_score"] for t in results["tests"])
    assert any(f"Hint: {colab_graded['mistake'].hint}" in t["output"] for t in results["tests"])


def test_the_notebooks_checker_needs_nothing_but_torch_and_numpy(tmp_path):
    """What a notebook's check cell imports (after its set-up cell), besides torch and numpy and
    what they import: the standard library and dlgrade only, so nothing needs installing on Colab
    or Kaggle."""
    for name, data in student_members(get_assignment("rnn")).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    probe = ("import sys, torch, numpy\n"
             "before = set(sys.modules)\n"
             "import dlgrade.handout.checks\n"
             "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
             "stdlib = set(sys.stdlib_module_names)\n"
             "print(sorted(m for m in new - stdlib - {'dlgrade'} if not m.startswith('_sysconfigdata_')))\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path / "rnn", capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


# -- devices -------------------------------------------------------------------------------------------

DEVICE_CODE = '''
import torch

def on_meta(x):
    return torch.empty_like(x, device="meta")

def fake_cuda(x):
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode(allow_non_fake_inputs=True):
        return torch.ones(3, device="cuda") * 2

def asks_for_cuda(x):
    return x.cuda()

class MovedToMeta(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(3))
        self.to("meta")

    def forward(self, x):
        return x * self.w
'''


def _call(target: str, init: dict | None = None) -> dict:
    return {"op": "call", "target": target, "init": init, "dtype": "float32", "method": "forward",
            "args": [torch.ones(3)], "kwargs": {}, "grad_outputs": None, "state_dict": None}


@pytest.mark.parametrize("target, init, says", [
    ("on_meta", None, "on the 'meta' device, which holds no values"),
    ("MovedToMeta", {}, "on the 'meta' device, which holds no values"),
])
def test_an_answer_on_the_meta_device_is_refused_with_a_message(target, init, says):
    namespace: dict = {}
    exec(DEVICE_CODE, namespace)
    answer = execute.run(namespace, _call(target, init), {})
    assert answer["ok"] is False and answer["where"] == wire.Where.RETURNING and says in answer["error"]


def test_a_fake_tensor_is_refused_where_it_would_be_compared():
    """In a notebook's check cell (the code runs in the kernel itself) as in the worker, an
    answer is what the wire carries: a fake device's tensor cannot be read, said as such."""
    namespace: dict = {}
    exec(DEVICE_CODE, namespace)
    answer = handout_checks._asked(namespace, _call("fake_cuda"), {})
    assert answer["ok"] is False and "could not read the result" in answer["error"], answer


def test_code_that_asks_for_cuda_on_a_cpu_gets_the_device_hint():
    namespace: dict = {}
    exec(DEVICE_CODE, namespace)
    request = _call("asks_for_cuda")
    answer = execute.run(namespace, request, {})
    assert answer["ok"] is False and "CUDA" in answer["error"]
    expected = {"ok": True, "out": torch.ones(3), "inputs_after": [torch.ones(3)], "forbidden": []}
    for lang, says in (("en", "Make new tensors on the inputs' device"), ("ko", "새 텐서는 입력과 같은 장치에")):
        message = feedback("values", request, expected, answer, lang=lang)
        assert says in message and "x.device" in message, message
