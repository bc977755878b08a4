"""`dlgrade build`: the handout, the Otter autograder zip and the solutions, used as people would."""
from __future__ import annotations

import json
import pickle
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import dlgrade_cmd, fill_notebook, reference_source

from dlgrade.authoring.kernels import execute_notebook
from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.authoring.setup_cell import carried_files
from dlgrade.authoring.template import solution_bodies
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.supervisor.submission import SETUP_TAG

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(dlgrade_cmd("build", "--out", str(out)), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def unzip(path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(path) as zf:
        zf.extractall(dest)
    return dest


def solution_lines(name: str) -> list[str]:
    lines = {line.strip() for body in solution_bodies(get_assignment(name).solution_source)
             for line in body.splitlines()}
    return sorted(line for line in lines if len(line) > 12 and not line.startswith("#"))


# -- reproducibility --------------------------------------------------------------------------

def test_building_twice_gives_identical_zips(dist, tmp_path):
    again = tmp_path / "again"
    proc = subprocess.run(dlgrade_cmd("build", "--out", str(again)), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ASSIGNMENTS:
        for zip_name in ("student.zip", "autograder.zip", "solutions.zip"):
            first, second = (dist / name / zip_name).read_bytes(), (again / name / zip_name).read_bytes()
            assert first == second, f"{name}/{zip_name} differs between two builds"


def test_a_korean_build_into_the_same_folder_stands_beside_the_english_one(dist):
    """``build --lang ko --out DIR`` writes ``DIR/ko/<a>/``: the English ``DIR/<a>/`` stays as it was."""
    english = {p.name: p.read_bytes() for p in (dist / "rnn").iterdir()}
    proc = subprocess.run(dlgrade_cmd("build", "--lang", "ko", "--assignment", "rnn", "--out", str(dist)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    korean = dist / "ko" / "rnn"
    assert proc.stdout.splitlines() == [f"wrote {korean / n}" for n in ("student.zip", "autograder.zip", "solutions.zip")]
    assert {p.name: p.read_bytes() for p in (dist / "rnn").iterdir()} == english
    for lang, folder in (("en", dist / "rnn"), ("ko", korean)):
        with zipfile.ZipFile(folder / "student.zip") as zf:
            assert json.loads(zf.read("rnn/rnn_checks.json"))["lang"] == lang


def test_build_usage_errors(tmp_path):
    proc = subprocess.run(dlgrade_cmd("build", "--out", str(tmp_path), "--assignment", "nope"),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("dlgrade: error: unknown assignment")
    assert "Traceback" not in proc.stderr


# -- student.zip ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_zip_holds_the_handout_and_no_solution(dist, name):
    with zipfile.ZipFile(dist / name / "student.zip") as zf:
        members = {n: zf.read(n).decode("utf-8") for n in zf.namelist()}
    for required in (f"{name}.ipynb", f"{name}.py", f"{name}_checks.json", "requirements.txt", "README.md",
                     "dlgrade/handout/checks.py", "dlgrade/worker/server.py"):
        assert f"{name}/{required}" in members, required
    assert not any("solutions/" in n or "autograder/" in n or "mistakes" in n or "grading/" in n for n in members)
    # what the notebook carries for where it is opened alone (its set-up cell): the same checker
    # and checks as the folder, nothing more
    setup = next(c for c in nbformat.reads(members[f"{name}/{name}.ipynb"], as_version=4).cells
                 if c.cell_type == "code" and SETUP_TAG in c.metadata.get("tags", []))
    carried = {n: data.decode("utf-8") for n, data in carried_files(setup.source).items()}
    assert carried and {f"{name}/{n}": text for n, text in carried.items()}.items() <= members.items()
    leaks = [(member, line) for member, text in [*members.items(), *carried.items()] for line in solution_lines(name)
             if line in text]
    assert not leaks, leaks[:5]
    readme = members[f"{name}/README.md"]
    assert f"python -m dlgrade check {name}.py" in readme and "pip install -r requirements.txt" in readme


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_handout_checker_runs_outside_the_repository_and_stubs_score_zero(dist, name, tmp_path):
    folder = unzip(dist / name / "student.zip", tmp_path) / name
    env = dict(os.environ, DLGRADE_ROOT=str(tmp_path / "no-repo-here"))
    proc = subprocess.run([sys.executable, "-m", "dlgrade", "check", f"{name}.py"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^0 of \d+ public checks passed\.$", proc.stdout, re.M), proc.stdout
    assert "TODO: implement" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    # ... and the hidden graders give the handed-out stub 0
    out = tmp_path / "graded"
    proc = subprocess.run(dlgrade_cmd("grade", "--assignment", name, "--out", str(out), str(folder / f"{name}.py")),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / name / "results.json").read_text())["score"] == 0



def test_handout_command_line_offers_check_only(dist, tmp_path):
    """The handout vendors whole zones (dlgrade.packaging.vendor.HANDOUT) and none of the
    instructor's: its command line has nothing else to offer."""
    folder = unzip(dist / "rnn" / "student.zip", tmp_path) / "rnn"
    zones = {p.name for p in (folder / "dlgrade").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert zones == {"exposed", "worker", "supervisor", "judging", "handout"}
    proc = subprocess.run([sys.executable, "-m", "dlgrade", "--help"], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.findall(r"^    (\w+)\s", proc.stdout, re.M) == ["check"], proc.stdout
    assert not re.search(r"\b(grade|selftest|build|demo|generate)\b|instructor", proc.stdout), proc.stdout  # nor names them
    proc = subprocess.run([sys.executable, "-m", "dlgrade", "grade", "x"], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "invalid choice: 'grade'" in proc.stderr and "Traceback" not in proc.stderr

def _fill(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Each question's stub cell replaced by the reference's code, and a cell saying which dlgrade runs."""
    fill_notebook(nb, get_assignment(name), reference_source(name))
    nb.cells.insert(1, nbformat.v4.new_code_cell("import dlgrade\nprint('dlgrade from', dlgrade.__file__)"))
    return nb


def _run_notebook(nb: nbformat.NotebookNode, folder: Path) -> str:
    execute_notebook(nb, folder, timeout=300, allow_errors=True)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") if output.output_type == "stream" else
                         "\n".join(output.get("traceback", [])) if output.output_type == "error" else "")
    return "\n".join(texts)


def test_student_notebook_end_to_end(dist, tmp_path):
    """Unpack the handout, run the notebook as handed out, then filled in with the reference."""
    name = "attention"
    folder = unzip(dist / name / "student.zip", tmp_path) / name
    handed_out = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    output = _run_notebook(handed_out, folder)
    assert "[FAIL]" in output and "[PASS]" not in output
    assert "NotImplementedError" in output and "Traceback" not in output
    filled = _fill(nbformat.read(folder / f"{name}.ipynb", as_version=4), name)
    output = _run_notebook(filled, folder)
    assert f"dlgrade from {folder / 'dlgrade' / '__init__.py'}" in output, output[:300]
    assert "[FAIL]" not in output and "Traceback" not in output, output
    for line in re.findall(r"^(\d+) of (\d+) public checks passed\.$", output, re.M):
        assert line[0] == line[1]
    assert output.count("public checks passed.") == len(get_assignment(name).questions)


# -- solutions.zip ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solutions_zip_has_the_executed_reference_notebook(dist, name):
    with zipfile.ZipFile(dist / name / "solutions.zip") as zf:
        nb = nbformat.reads(zf.read(f"{name}/{name}_solution.ipynb").decode(), as_version=4)
        assert zf.read(f"{name}/{name}.py").decode() == reference_source(name)
    outputs = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "[FAIL]" not in outputs
    assert outputs.count("public checks passed.") == len(get_assignment(name).questions)


# -- autograder.zip: otter run, and Gradescope's layout ---------------------------------------

def test_autograder_zip_is_an_otter_autograder(dist):
    with zipfile.ZipFile(dist / "rnn" / "autograder.zip") as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("otter_config.json"))
        environment = zf.read("environment.yml").decode()
        setup = zf.read("setup.sh").decode()
    assert {"run_autograder", "run_otter.py", "setup.sh", "environment.yml", "tests/dlgrade.py"} <= names
    assert {"files/dlgrade_kit/solutions/rnn.py", "files/dlgrade_kit/assignments/rnn/mistakes.py",
            "files/dlgrade_kit/autograder/rnn/test_rnn_cells.py"} <= names
    assert config["plugins"] == [{"dlgrade.gradescope.otter_plugin.DlgradePlugin": {"assignment": "rnn", "lang": "en"}}]
    assert "apt-get install -y bubblewrap" in setup  # the worker's sandbox on Gradescope
    assert "torch==2.13.0+cpu" in environment and "dlgrade-0.1.0-py3-none-any.whl" in environment
    assert not any(n.startswith("files/") and n.count("/") == 1 and n.endswith(".py") for n in names)


def _otter_run(autograder: Path, submission: Path, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    out.mkdir(parents=True, exist_ok=True)
    otter = Path(sys.executable).parent / "otter"
    proc = subprocess.run([str(otter), "run", "-a", str(autograder), "-o", str(out), "--no-logo", str(submission)],
                          capture_output=True, text=True, timeout=600)
    results = out / "results.json"
    return proc, (json.loads(results.read_text()) if results.exists() else {})


def _mistake_source(name: str, mistake_id: str) -> str:
    assignment = get_assignment(name)
    mistake = next(m for m in assignment.mistakes if m.id == mistake_id)
    return ReferenceOracle(assignment).mistake_source(mistake), mistake.hint


@pytest.fixture(scope="module")
def otter_runs(dist, tmp_path_factory):
    """Grade four submissions through `otter run -a autograder.zip` (for real)."""
    root = tmp_path_factory.mktemp("otter")
    buggy, hint = _mistake_source("rnn", "lstm_gate_order_ifog")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(reference_source("attention"))])
    cases = {
        **{f"correct:{name}": (name, f"{name}.py", reference_source(name)) for name in ASSIGNMENTS},
        "buggy": ("rnn", "rnn.py", buggy),
        "crash": ("rnn", "rnn.py", "raise RuntimeError('crashes at import')\n" + reference_source("rnn")),
        "notebook": ("attention", "attention.ipynb", nbformat.writes(notebook)),
    }
    runs = {}
    for case, (name, filename, text) in cases.items():
        sub = root / case.replace(":", "-") / filename
        sub.parent.mkdir(parents=True)
        sub.write_text(text)
        runs[case] = _otter_run(dist / name / "autograder.zip", sub, sub.parent / "out")
    hostile = root / "otter-package" / "submission.zip"
    hostile.parent.mkdir()
    with zipfile.ZipFile(hostile, "w") as zf:
        for member, data in otter_kernel_bait(root / "otter-package").items():
            zf.writestr(member, data)
    runs["otter-package"] = _otter_run(dist / "attention" / "autograder.zip", hostile, hostile.parent / "out")
    runs["hint"] = hint
    runs["bait"] = root / "otter-package"
    return runs


STUB = REPO / "student_template" / "attention" / "attention.py"


def otter_kernel_bait(marks: Path) -> dict[str, bytes]:
    """The untouched stub beside a package named like what Otter's kernel imports (``otter``) and
    an ``.OTTER_LOG`` that Otter's process would unpickle: each leaves a mark under ``marks`` if it
    ever runs, and the package also forges a full score the way Otter's kernel reports one."""
    forge = (f"import pathlib\npathlib.Path({str(marks / 'kernel-ran')!r}).write_text('ran')\n"
             "class Notebook:\n    def __init__(self, *a, **k): pass\n"
             "def __getattr__(name):\n    raise SystemExit(0)\n")
    log = pickle.dumps(_Mark(str(marks / "log-unpickled")))
    return {"attention.py": STUB.read_bytes(), "otter/__init__.py": forge.encode(),
            "otter/check/__init__.py": forge.encode(), ".OTTER_LOG": log}


class _Mark:
    """Unpickling it writes a file (what a hostile pickle would do, harmlessly)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('unpickled')",))


def test_otter_run_gives_a_correct_submission_full_marks(otter_runs):
    proc, results = otter_runs["correct:rnn"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["score"] == 24 and len(results["tests"]) == 15
    assert all(t["status"] == "passed" for t in results["tests"])
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_otter_run_gives_every_assignments_reference_full_marks(otter_runs, name):
    proc, results = otter_runs[f"correct:{name}"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["tests"] and all(t["status"] == "passed" for t in results["tests"]), results
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0


def test_otter_run_catches_a_catalogued_mistake_with_its_hint(otter_runs):
    proc, results = otter_runs["buggy"]
    assert proc.returncode == 0, proc.stderr
    assert 0 < results["score"] < 24
    assert any(f"Hint: {otter_runs['hint']}" in t["output"] for t in results["tests"])


def test_otter_run_grades_a_notebook_submission(otter_runs):
    proc, results = otter_runs["notebook"]
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == 21 and all(t["status"] == "passed" for t in results["tests"])


def test_otter_run_writes_results_for_a_submission_that_crashes_at_import(otter_runs):
    _, results = otter_runs["crash"]
    assert results["score"] == 0 and len(results["tests"]) == 15
    assert "crashes at import" in results["output"], results["output"]  # said once, above the tests
    assert all("error while it was loaded" in t["output"] for t in results["tests"])


def test_otter_run_runs_nothing_of_the_submission_outside_the_worker(otter_runs):
    """A zip with the stub, a package named ``otter`` and a pickled ``.OTTER_LOG``: Otter's kernel
    never starts (it would import the package) and nothing is unpickled; the stub scores 0."""
    proc, results = otter_runs["otter-package"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["score"] == 0 and len(results["tests"]) > 1, results
    assert not list(otter_runs["bait"].glob("kernel-ran")) and not list(otter_runs["bait"].glob("log-unpickled"))


def test_results_record_the_confinement_where_students_do_not_see_it(otter_runs):
    from dlgrade.supervisor import tier

    _, results = otter_runs["correct:rnn"]
    assert results["extra_data"]["dlgrade_confinement"] == {"tier": tier.mode().tier, "mode": str(tier.mode()),
                                                            "how": tier.describe()}
    assert results["stdout_visibility"] == "hidden"
    assert all("tier" not in t["output"] for t in results["tests"])


def test_gradescope_layout_runs_our_run_otter_without_otter(dist, tmp_path):
    """Gradescope's ``run_autograder`` runs ``source/run_otter.py``: ours grades with dlgrade, Otter's
    grading and kernel are not involved; the same bait as above changes nothing."""
    root = tmp_path / "autograder"
    unzip(dist / "attention" / "autograder.zip", root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for member, data in otter_kernel_bait(tmp_path).items():
        (root / "submission" / member).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / member).write_bytes(data)
    run_otter = (root / "source" / "run_otter.py").read_text()
    assert "otter.run" not in run_otter and '"/autograder"' in run_otter
    (root / "source" / "run_otter_here.py").write_text(run_otter.replace('"/autograder"', repr(str(root))))
    proc = subprocess.run([sys.executable, str(root / "source" / "run_otter_here.py")], capture_output=True,
                          text=True, timeout=600, cwd=root / "submission")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("dlgrade: confinement: tier ")
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and len(results["tests"]) > 1
    assert not list(tmp_path.glob("kernel-ran")) and not list(tmp_path.glob("log-unpickled"))


def test_gradescope_layout_runs_the_generated_run_autograder(dist, tmp_path):
    """source/ (the zip unpacked), submission/, results/ under a temporary root, as on Gradescope."""
    root = tmp_path / "autograder"
    unzip(dist / "rnn" / "autograder.zip", root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    (root / "submission_metadata.json").write_text("{}")
    buggy, hint = _mistake_source("rnn", "gru_z_swapped")
    (root / "submission" / "rnn.py").write_text(buggy)
    run_otter = (root / "source" / "run_otter.py").read_text()
    assert '"/autograder"' in run_otter  # what Gradescope runs, pointed at our temporary root
    (root / "source" / "run_otter_here.py").write_text(run_otter.replace('"/autograder"', repr(str(root))))
    proc = subprocess.run([sys.executable, str(root / "source" / "run_otter_here.py")], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert 0 < results["score"] < 24
    assert any(f"Hint: {hint}" in t["output"] for t in results["tests"])
    hidden = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert hidden and all(t["max_score"] > 0 for t in hidden)


def test_plugin_error_results_are_a_valid_failed_gradescope_result():
    from dlgrade.gradescope.autograde import error_results

    results = error_results("RuntimeError: kit missing")
    assert results["score"] == 0 and "please tell your instructor" in results["output"]
    [test] = results["tests"]
    assert test["status"] == "failed" and test["output"] == "RuntimeError: kit missing"
