"""End-to-end tests of ``dlgrade grade``: whole batches of submissions through the real CLI.

Grading costs a few seconds per run plus about 1.5 s per submission, so every submission of an
assignment is written into one folder and graded by ONE ``dlgrade grade`` run. The runs (rnn,
attention, a small rnn batch with ``--timeout 2``, and two tiny ones for failed grading runs) are
started together, in threads, the first time a test needs one; each test then reads the
``results.json`` files it needs.

Submissions are the reference solutions (``solutions/<a>.py``) with small textual edits: broken
at import, crashing, hanging, returning garbage, using forbidden torch built-ins, modifying their
inputs, making a catalogued mistake, or packaged as a notebook, a folder or a zip.
"""
from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlgrade.authoring.registry import get_assignment

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
FULL_MARKS = {"rnn": 24.0, "attention": 21.0}
FORBIDDEN_MESSAGE = "which this assignment asks you to implement yourself"
GRADERS_FILE_TARGET = {  # graders files whose tests all exercise one target
    "test_rnn_layer.py": "LSTM",
    "test_attention_sdpa.py": "scaled_dot_product_attention",
    "test_attention_mha.py": "MultiHeadedAttention",
}
RUN_LIMIT_S = 300  # a hung grading run fails the suite instead of blocking it


# -- helpers -------------------------------------------------------------------------------------
def dlgrade_command() -> list[str]:
    """The installed ``dlgrade`` console script next to this interpreter (else ``-m dlgrade``)."""
    script = Path(sys.executable).with_name("dlgrade")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dlgrade"]


def run_cli(*args: object, cwd: Path, timeout: float = RUN_LIMIT_S,
            env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*dlgrade_command(), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def reference(name: str) -> str:
    return (REPO / "solutions" / f"{name}.py").read_text()


def edit(source: str, old: str, new: str) -> str:
    """``source`` with the single occurrence of ``old`` replaced (fails loudly if it drifted)."""
    count = source.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the reference; update this test"
    return source.replace(old, new)


@dataclass(frozen=True)
class GraderInfo:
    file: str
    public: bool
    points: float
    params: int  # how many results entries the function produces


def _decorator_name(node: ast.expr) -> str:
    return ast.unparse(node.func if isinstance(node, ast.Call) else node)


def grader_index(assignment: str) -> dict[str, GraderInfo]:
    """Docstring title -> markers of every grader in ``autograder/<assignment>/`` (read with ast)."""
    index = {}
    for path in sorted((REPO / "autograder" / assignment).glob("test_*.py")):
        tree = ast.parse(path.read_text())
        sizes = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Dict, ast.List, ast.Tuple)):
                size = len(node.value.keys if isinstance(node.value, ast.Dict) else node.value.elts)
                sizes.update({t.id: size for t in node.targets if isinstance(t, ast.Name)})
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            public, points, params = False, 1.0, 1
            for deco in node.decorator_list:
                name = _decorator_name(deco)
                if name == "pytest.mark.public":
                    public = True
                elif name == "pytest.mark.points":
                    points = float(ast.literal_eval(deco.args[0]))
                elif name == "pytest.mark.parametrize":
                    values = deco.args[1]
                    params = sizes[values.id] if isinstance(values, ast.Name) else len(values.elts)
            title = ast.get_docstring(node).strip().splitlines()[0].strip()
            assert title not in index, f"two graders share the title {title!r}"
            index[title] = GraderInfo(path.name, public, points, params)
    assert index, f"no graders found for {assignment}"
    return index


def split_title(test_name: str, index: dict[str, GraderInfo]) -> tuple[str, str | None]:
    """``"The cell ... [GRUCell]"`` -> ``("The cell ...", "GRUCell")`` (titles may end in ``[...]`` too)."""
    if test_name not in index and test_name.endswith("]") and " [" in test_name:
        base, param = test_name[:-1].rsplit(" [", 1)
        return base, param
    return test_name, None


@dataclass
class Batch:
    """One ``dlgrade grade`` run over many submissions."""

    assignment: str
    out: Path
    names: list[str]  # the names results are expected under, in submission order
    proc: subprocess.CompletedProcess | None = None
    elapsed: float = 0.0
    index: dict[str, GraderInfo] = field(default_factory=dict)

    def results(self, name: str) -> dict:
        path = self.out / name / "results.json"
        assert path.exists(), f"no results.json for {name}; grading log:\n{self.log()}"
        return json.loads(path.read_text())

    def log(self) -> str:
        log = self.out / "grading.log"
        text = log.read_text() if log.exists() else "(no grading.log)"
        proc = self.proc.stdout + self.proc.stderr if self.proc else ""
        return (proc + "\n" + text)[-6000:]

    def tests(self, name: str) -> list[dict]:
        return self.results(name)["tests"]

    def target_of(self, test: dict) -> str:
        base, param = split_title(test["name"], self.index)
        info = self.index[base]
        return param if param is not None else GRADERS_FILE_TARGET[info.file]

    def group(self, name: str, target: str) -> list[dict]:
        """The results entries of ``name`` whose grader exercises ``target``."""
        found = [t for t in self.tests(name) if self.target_of(t) == target]
        assert found, f"no tests of {target} in {name}'s results"
        return found

    def test(self, name: str, title_start: str, target: str | None = None) -> dict:
        """The one results entry whose name starts with ``title_start`` (and exercises ``target``)."""
        found = [t for t in self.tests(name) if t["name"].startswith(title_start)
                 and (target is None or self.target_of(t) == target)]
        assert len(found) == 1, f"{len(found)} tests of {name} start with {title_start!r}: {found}"
        return found[0]


def assert_full_marks(batch: Batch, name: str) -> None:
    results = batch.results(name)
    failed = [(t["name"], t["output"]) for t in results["tests"] if t["status"] != "passed"]
    assert not failed, f"{name} lost points: {failed}"
    assert results["score"] == results["max_score"] == FULL_MARKS[batch.assignment]
    assert all(t["output"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])


def assert_all_failed(tests: list[dict], *needles: str) -> None:
    for test in tests:
        assert test["score"] == 0 and test["status"] == "failed", test
        for needle in needles:
            assert needle in test["output"], f"{needle!r} not in the output of {test['name']!r}:\n{test['output']}"


def assert_all_passed(tests: list[dict]) -> None:
    for test in tests:
        assert test["status"] == "passed" and test["score"] == test["max_score"], test
        assert test["output"] == "passed", test


def score_of(tests: list[dict]) -> float:
    return sum(t["max_score"] for t in tests)


# -- the submissions -----------------------------------------------------------------------------
SYNTAX_ERROR_LINE = 4  # of syntax_error.py: the broken ``def`` below

RNN_EDITS = {
    # GRUCell.forward returns a string, LSTM.forward returns None; LSTMCell is fine
    "garbage": [("        return (1 - z) * n + z * h\n", '        return "garbage"\n'),
                ("        return torch.stack(outputs, dim=1), state\n", "        return None\n")],
    "missing_lstm": [("class LSTM(nn.Module):", "class MyLSTM(nn.Module):")],
    # the worker process dies inside GRUCell.forward
    "os_exit": [("        gi = x @ self.weight_ih.T\n",
                 "        import os\n        os._exit(1)\n        gi = x @ self.weight_ih.T\n")],
    # LSTMCell.forward runs a torch.nn.LSTMCell holding its own parameters (right values and gradients)
    "forbidden_lstm_cell": [("        gates = x @ self.weight_ih.T + h @ self.weight_hh.T\n",
                             "        cell = nn.LSTMCell(self.input_size, self.hidden_size,"
                             " bias=self.bias_ih is not None)\n"
                             "        cell.weight_ih, cell.weight_hh = self.weight_ih, self.weight_hh\n"
                             "        cell.bias_ih, cell.bias_hh = self.bias_ih, self.bias_hh\n"
                             "        return cell(x, (h, c))\n"
                             "        gates = x @ self.weight_ih.T + h @ self.weight_hh.T\n")],
    # GRUCell doubles its input x in place (then halves a copy: values stay exact)
    "inplace_gru": [("        gi = x @ self.weight_ih.T\n",
                     "        x.mul_(2.0)\n        x = x / 2.0\n        gi = x @ self.weight_ih.T\n")],
    # catalogued mistake lstm_gate_order_ifog
    "gate_order": [("i, f, g, o = gates.chunk(4, dim=1)", "i, f, o, g = gates.chunk(4, dim=1)")],
}

ATTENTION_EDITS = {
    "forbidden_sdpa": [("    return attention @ V, attention\n",
                        "    out = torch.nn.functional.scaled_dot_product_attention(\n"
                        "        Q, K, V, attn_mask=None if mask is None else mask.bool())\n"
                        "    return out, attention\n")],
    # MultiHeadedAttention.forward hands the work to torch.nn.MultiheadAttention
    "forbidden_mha": [("        B, n_Q, _ = Q.shape\n",
                       "        mha = nn.MultiheadAttention(self.d_feat, self.n_head, batch_first=True).to(Q.dtype)\n"
                       "        return mha(Q, K, V, need_weights=True, average_attn_weights=False)\n"
                       "        B, n_Q, _ = Q.shape\n")],
    # catalogued mistake softmax_wrong_axis
    "softmax_axis": [("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)")],
    # scaled_dot_product_attention doubles its input Q in place (then halves a copy)
    "inplace_q": [("    d_k = Q.shape[-1]\n", "    Q.mul_(2.0)\n    Q = Q / 2.0\n    d_k = Q.shape[-1]\n")],
    # MultiHeadedAttention returns out with the wrong shape
    "wrong_shape": [("return self.lin_O(merged), attention", "return self.lin_O(merged)[:, :1], attention")],
}


# black (and PEP 8) break long expressions before binary operators: a line may start with ``!=``
BLACK_STYLE = ("        outputs = []\n",
               "        if (\n"
               "            state is not None\n"
               "            and state[0].shape[0]\n"
               "            != x.shape[0]\n"
               "        ):\n"
               "            raise ValueError(\"x and state have different batch sizes\")\n"
               "        outputs = []\n")


def write_edited(folder: Path, name: str, source: str, edits: list[tuple[str, str]]) -> Path:
    for old, new in edits:
        source = edit(source, old, new)
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


def rnn_notebook(source: str) -> nbformat.NotebookNode:
    """The reference split over cells, with magics, shell lines, a failing cell and a check cell."""
    starts = [source.index("class LSTMCell("), source.index("class GRUCell("), source.index("class LSTM(")]
    header, lstm_cell, gru_cell, lstm = (source[:starts[0]], source[starts[0]:starts[1]],
                                         source[starts[1]:starts[2]], source[starts[2]:])
    cells = [
        new_markdown_cell("# My RNN homework"),
        new_code_cell("%matplotlib inline\n!pip install --quiet nothing-at-all\n" + header),
        new_code_cell(lstm_cell),
        new_code_cell("# trying things out\nraise ValueError('an exploratory cell that fails')"),
        new_code_cell("cell = LSTMCell(3, 4)\n%time cell(torch.randn(2, 3))\nfor _ in range(2):\n"
                      "    %timeit -n1 -r1 cell(torch.randn(2, 3))"),
        new_code_cell(gru_cell),
        new_code_cell("%%time\n" + lstm),
        # check cells are not part of the submission: if this one ran, every test would fail
        new_code_cell("import os\nos._exit(7)", metadata={"tags": ["dlgrade-check"]}),
    ]
    return new_notebook(cells=cells)


def write_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def rnn_batch(folder: Path) -> tuple[list[Path], list[str]]:
    ref = reference("rnn")
    subs = folder / "subs"
    subs.mkdir()
    paths = [write_edited(subs, "ref", ref, [])]
    (subs / "syntax_error.py").write_text("import math\n\n\ndef broken(:\n    pass\n\n" + ref)
    (subs / "import_error.py").write_text('raise RuntimeError("boom")\n' + ref)
    (subs / "sys_exit.py").write_text("import sys; sys.exit(3)\n" + ref)
    paths += [subs / "syntax_error.py", subs / "import_error.py", subs / "sys_exit.py"]
    paths += [write_edited(subs, name, ref, edits) for name, edits in RNN_EDITS.items()]
    nbformat.write(rnn_notebook(ref), subs / "notebook.ipynb")
    paths.append(subs / "notebook.ipynb")
    paths.append(write_edited(subs, "black_style", ref, [BLACK_STYLE]))  # control for notebook_black
    nbformat.write(rnn_notebook(edit(ref, *BLACK_STYLE)), subs / "notebook_black.ipynb")
    paths.append(subs / "notebook_black.ipynb")
    student = subs / "student_folder"  # a folder: the grader must pick rnn.py among other files
    student.mkdir()
    (student / "rnn.py").write_text(ref)
    (student / "helpers.py").write_text("import os\nos._exit(5)\n")
    (student / "README.txt").write_text("my homework\n")
    paths.append(student)
    hidden = subs / "hidden_dir"  # an old version in a hidden folder, the real one in homework/
    (hidden / ".old").mkdir(parents=True)
    (hidden / ".old" / "rnn.py").write_text("raise SystemExit('an old version')\n")
    (hidden / "homework").mkdir()
    (hidden / "homework" / "rnn.py").write_text(ref)
    paths.append(hidden)
    paths.append(write_zip(subs / "no_code.zip", {"notes.txt": "forgot the code\n", "data/x.csv": "1,2\n"}))
    for index, text in ((1, ref), (2, "")):  # same stem twice: dup, then dup-2
        (subs / f"dup{index}").mkdir()
        (subs / f"dup{index}" / "dup.py").write_text(text)
        paths.append(subs / f"dup{index}" / "dup.py")
    names = [p.stem if p.is_file() else p.name for p in paths[:-1]] + ["dup-2"]
    return paths, names


def attention_batch(folder: Path) -> tuple[list[Path], list[str]]:
    ref = reference("attention")
    subs = folder / "subs"
    subs.mkdir()
    paths = [write_edited(subs, "ref", ref, [])]
    paths += [write_edited(subs, name, ref, edits) for name, edits in ATTENTION_EDITS.items()]
    paths.append(write_zip(subs / "zipped.zip", {
        "subdir/attention.py": ref,
        "subdir/util.py": "raise SystemExit(4)\n",
        "__MACOSX/subdir/._attention.py": "junk",
        "subdir/README.md": "read me\n",
    }))
    # a notebook whose MultiHeadedAttention.forward raises: its error must point at the cell's line
    source = edit(ref, "        B, n_Q, _ = Q.shape\n", f"        {UNFINISHED}\n        B, n_Q, _ = Q.shape\n")
    split = source.index("class MultiHeadedAttention(")
    nb = new_notebook(cells=[new_code_cell(source[:split]), new_code_cell("%load_ext autoreload"),
                             new_code_cell(source[split:])])
    nbformat.write(nb, subs / "unfinished.ipynb")
    paths.append(subs / "unfinished.ipynb")
    return paths, [p.stem for p in paths]


UNFINISHED = 'raise RuntimeError("not finished yet")'


def unfinished_line() -> int:
    """Line of UNFINISHED in the third cell of unfinished.ipynb."""
    ref = reference("attention")
    cell = ref[ref.index("class MultiHeadedAttention("):]
    return cell[:cell.index("        B, n_Q, _ = Q.shape\n")].count("\n") + 1


def timeout_batch(folder: Path) -> tuple[list[Path], list[str]]:
    subs = folder / "subs"
    subs.mkdir()
    hang = [("        gi = x @ self.weight_ih.T\n", "        while True:\n            pass\n")]
    return [write_edited(subs, "hangs", reference("rnn"), hang)], ["hangs"]


def killer_batch(folder: Path) -> tuple[list[Path], list[str]]:
    """The reference, a submission that tries to kill the grading process that started its worker
    (the worker's sandbox should stop it; if not, the batch must survive), and the reference again."""
    subs = folder / "subs"
    subs.mkdir()
    (subs / "killer.py").write_text("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    paths = [write_edited(subs, name, reference("rnn"), []) for name in ("ref", "after")]
    return [paths[0], subs / "killer.py", paths[1]], ["ref", "killer", "after"]


STALE_SCORE = 24.0


def broken_graders_batch(folder: Path) -> tuple[list[Path], list[str]]:
    """A copy of the kit whose rnn graders crash pytest at collection (DLGRADE_ROOT points to it).

    ``regraded`` already has a results.json (score 24) in the output folder from an earlier run.
    """
    root = folder / "kit"
    for part in ("assignments/rnn", "autograder/rnn"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "solutions").mkdir()
    shutil.copy(REPO / "solutions" / "rnn.py", root / "solutions" / "rnn.py")
    (root / "autograder" / "rnn" / "test_zz_crash.py").write_text("import os\nos._exit(3)\n")
    subs = folder / "subs"
    subs.mkdir()
    paths = [write_edited(subs, name, reference("rnn"), []) for name in ("regraded", "fresh")]
    stale = folder / "out" / "regraded" / "results.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"score": STALE_SCORE, "max_score": 24.0, "output": "an earlier run", "tests": [
        {"name": "earlier", "score": STALE_SCORE, "max_score": 24.0, "output": "passed", "visibility": "visible",
         "status": "passed"}]}))
    return paths, ["regraded", "fresh"]


# key -> (assignment, submissions, extra options, environment changes). The runs share the CPUs
# already, so each grades in one session, but rnn's (split across two: names, notebooks, zips and
# folders graded in parallel; test_batch*.py test parallel grading itself)
BATCHES = {
    "rnn": ("rnn", rnn_batch, ("--jobs", "2"), {}),
    "attention": ("attention", attention_batch, ("--jobs", "1"), {}),
    "timeout": ("rnn", timeout_batch, ("--timeout", "2", "--jobs", "1"), {}),
    "killer": ("rnn", killer_batch, ("--jobs", "1"), {}),  # one session, which the killer targets
    "broken": ("rnn", broken_graders_batch, ("--jobs", "1"), {"DLGRADE_ROOT": "{folder}/kit"}),
}


def _grade(batch: Batch, paths: list[Path], options: tuple[str, ...], cwd: Path, env: dict) -> Batch:
    start = time.monotonic()
    batch.proc = run_cli("grade", "--assignment", batch.assignment, "--out", batch.out, *options, *paths,
                         cwd=cwd, env=env)
    batch.elapsed = time.monotonic() - start
    return batch


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """Start every grading run at once; each test waits for the one it reads."""
    pool = ThreadPoolExecutor(max_workers=len(BATCHES))
    futures = {}
    for key, (assignment, make, options, env) in BATCHES.items():
        folder = tmp_path_factory.mktemp(f"grade_{key}")
        paths, names = make(folder)
        batch = Batch(assignment, folder / "out", names, index=grader_index(assignment))
        env = {**os.environ, **{k: v.format(folder=folder) for k, v in env.items()}}
        futures[key] = pool.submit(_grade, batch, paths, options, folder, env)
    yield futures
    pool.shutdown(wait=True)


def _finished(batches: dict[str, Future], key: str, status: int = 0) -> Batch:
    batch = batches[key].result(timeout=RUN_LIMIT_S + 30)
    assert batch.proc.returncode == status, f"dlgrade grade exited {batch.proc.returncode}:\n{batch.log()}"
    return batch


def _broken(batches: dict[str, Future]) -> Batch:
    """The batch whose graders cannot run: nothing could be graded, which exits 1 saying why."""
    batch = _finished(batches, "broken", status=1)
    errors = [line for line in batch.proc.stderr.splitlines() if line.startswith("dlgrade: error:")]
    assert len(errors) == 1 and "no submission could be graded" in errors[0], batch.proc.stderr
    return batch


@pytest.fixture(scope="module")
def rnn(batches) -> Batch:
    return _finished(batches, "rnn")


@pytest.fixture(scope="module")
def attention(batches) -> Batch:
    return _finished(batches, "attention")


@pytest.fixture(scope="module")
def timeout_run(batches) -> Batch:
    return _finished(batches, "timeout")


def _hint(assignment: str, mistake_id: str) -> str:
    (mistake,) = [m for m in get_assignment(assignment).mistakes if m.id == mistake_id]
    return f"Hint: {mistake.hint}"


# -- 1. what each submission scores, and what it is told -------------------------------------------
@pytest.mark.parametrize("key", ["rnn", "attention"])
def test_reference_gets_full_marks(batches, key):
    batch = _finished(batches, key)
    assert_full_marks(batch, "ref")
    assert len(batch.tests("ref")) == sum(i.params for i in batch.index.values())


def test_cli_prints_a_score_table(rnn):
    out = rnn.proc.stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    for name in rnn.names:
        assert name in rows, f"{name} missing from the score table:\n{out}"
        results = rnn.results(name)
        assert rows[name][0] == f"{results['score']:g}/{results['max_score']:g}", rows[name]
    assert rows["ref"][1] == "15/15"


def assert_said_once_above_the_tests(results: dict, *needles: str) -> None:
    """What went wrong while the code loaded is in the top-level output, after the score line, and
    each failing test points there instead of repeating it."""
    *above, score = results["output"].splitlines()
    assert score.startswith("Score: "), results["output"]
    for needle in needles:
        assert needle in "\n".join(above[1:]), f"{needle!r} not above the tests:\n{results['output']}"
        assert not any(needle in test["output"] for test in results["tests"]), results["tests"]
    assert_all_failed(results["tests"], "error while it was loaded (shown above the tests)")


def test_syntax_error_scores_zero_and_names_the_line(rnn):
    results = rnn.results("syntax_error")
    assert results["score"] == 0 and results["max_score"] == FULL_MARKS["rnn"]
    assert_said_once_above_the_tests(results, "SyntaxError", f"line {SYNTAX_ERROR_LINE}", "syntax_error.py")


def test_error_at_import_scores_zero_and_is_reported(rnn):
    results = rnn.results("import_error")
    assert results["score"] == 0
    assert_said_once_above_the_tests(results, "RuntimeError: boom", "While loading your code")
    assert_all_failed(results["tests"], "is not defined")


def test_sys_exit_at_import_scores_zero(rnn):
    results = rnn.results("sys_exit")
    assert results["score"] == 0 and results["max_score"] == FULL_MARKS["rnn"]
    assert_said_once_above_the_tests(results, "SystemExit(3)")


def test_missing_class_fails_only_its_tests(rnn):
    assert_all_failed(rnn.group("missing_lstm", "LSTM"), "LSTM is not defined")
    assert_all_passed(rnn.group("missing_lstm", "LSTMCell") + rnn.group("missing_lstm", "GRUCell"))
    assert rnn.results("missing_lstm")["score"] == FULL_MARKS["rnn"] - score_of(rnn.group("missing_lstm", "LSTM"))


def test_garbage_outputs_say_what_was_expected(rnn):
    gru = rnn.group("garbage", "GRUCell")
    assert_all_failed([t for t in gru if "signature" not in t["name"]], "Called: GRUCell(")
    shapes = rnn.test("garbage", "The cell keeps the handed-out signature", "GRUCell")
    assert "expected a tensor float32[3, 4], got 'garbage'" in shapes["output"], shapes["output"]
    lstm_shapes = rnn.test("garbage", "LSTM keeps the handed-out signature")
    assert lstm_shapes["score"] == 0
    assert "expected (float32[2, 5, 4], (float32[2, 4], float32[2, 4])), got None" in lstm_shapes["output"], \
        lstm_shapes["output"]
    lstm = rnn.group("garbage", "LSTM")
    assert_all_failed(lstm, "Called: LSTM(")
    assert_all_failed([t for t in lstm if not t["name"].startswith("Gradients")], "got None")
    assert_all_passed(rnn.group("garbage", "LSTMCell"))


def test_wrong_shape_says_expected_and_got(attention):
    mha = attention.group("wrong_shape", "MultiHeadedAttention")
    assert_all_failed(mha, "Called: MultiHeadedAttention(d_feat=")
    shapes = attention.test("wrong_shape", "MultiHeadedAttention keeps its signature")
    assert "out: expected shape [2, 3, 8], got [2, 1, 8]" in shapes["output"], shapes["output"]
    assert_all_passed(attention.group("wrong_shape", "scaled_dot_product_attention"))


def test_worker_death_fails_only_the_tests_that_run_it(rnn):
    assert_all_failed(rnn.group("os_exit", "GRUCell"), "ended the worker process", "exit status 1")
    # the worker was started again for the other tests
    assert_all_passed(rnn.group("os_exit", "LSTMCell") + rnn.group("os_exit", "LSTM"))


def test_infinite_loop_times_out(timeout_run):
    assert_all_failed(timeout_run.group("hangs", "GRUCell"), "timed out after 2 s")
    assert_all_passed(timeout_run.group("hangs", "LSTMCell") + timeout_run.group("hangs", "LSTM"))
    hung_tests = len(timeout_run.group("hangs", "GRUCell"))
    assert timeout_run.elapsed < 20 + 6 * hung_tests, f"the run took {timeout_run.elapsed:.0f} s"


def test_forbidden_lstm_cell_scores_zero_on_its_tests(rnn):
    lstm_cell = rnn.group("forbidden_lstm_cell", "LSTMCell")
    assert_all_failed(lstm_cell, FORBIDDEN_MESSAGE, "torch.lstm_cell (nn.LSTMCell)")
    assert_all_failed(rnn.group("forbidden_lstm_cell", "LSTM"), FORBIDDEN_MESSAGE)  # LSTM runs the cell
    assert_all_passed(rnn.group("forbidden_lstm_cell", "GRUCell"))


def test_forbidden_sdpa_scores_zero(attention):
    results = attention.results("forbidden_sdpa")
    assert results["score"] == 0  # MultiHeadedAttention calls the student's sdpa too
    assert_all_failed(results["tests"], FORBIDDEN_MESSAGE, "torch.nn.functional.scaled_dot_product_attention")
    assert all("Hint:" not in t["output"] for t in results["tests"])


def test_forbidden_multihead_attention_scores_zero_on_its_tests(attention):
    assert_all_failed(attention.group("forbidden_mha", "MultiHeadedAttention"), FORBIDDEN_MESSAGE,
                      "nn.MultiheadAttention")
    assert_all_passed(attention.group("forbidden_mha", "scaled_dot_product_attention"))


def test_inplace_input_change_is_reported_rnn(rnn):
    unchanged = rnn.test("inplace_gru", "The cell returns the right shapes and does not modify", "GRUCell")
    assert unchanged["score"] == 0
    assert "your code modified its input x in place" in unchanged["output"], unchanged["output"]
    assert "input h " not in unchanged["output"]
    assert_all_passed([rnn.test("inplace_gru", "The cell's outputs match the reference (float32", "GRUCell"),
                       rnn.test("inplace_gru", "The cell's outputs match the reference in float64", "GRUCell")])
    assert_all_passed(rnn.group("inplace_gru", "LSTMCell") + rnn.group("inplace_gru", "LSTM"))


def test_inplace_input_change_is_reported_attention(attention):
    unchanged = attention.test("inplace_q", "scaled_dot_product_attention returns the right shapes and does not")
    assert unchanged["score"] == 0
    assert "your code modified its input Q in place" in unchanged["output"], unchanged["output"]
    for title in ("out and attention match the reference without a mask",
                  "out and attention match the reference with a causal"):
        assert_all_passed([attention.test("inplace_q", title)])
    # MultiHeadedAttention hands sdpa its own projections, not the caller's Q
    assert_all_passed(attention.group("inplace_q", "MultiHeadedAttention"))


def test_catalogued_rnn_mistake_gets_its_hint(rnn):
    hint = _hint("rnn", "lstm_gate_order_ifog")
    results = rnn.results("gate_order")
    assert 0 < results["score"] < FULL_MARKS["rnn"]
    values = rnn.test("gate_order", "The cell's outputs match the reference (float32", "LSTMCell")
    assert values["score"] == 0
    assert hint in values["output"].splitlines(), values["output"]
    assert "Called: LSTMCell(input_size=5, hidden_size=4, bias=True) in float32" in values["output"]
    assert "h_next: max abs error" in values["output"]
    assert_all_passed(rnn.group("gate_order", "GRUCell"))
    assert all(hint not in t["output"] for t in rnn.group("gate_order", "GRUCell"))


def test_catalogued_attention_mistake_gets_its_hint(attention):
    hint = _hint("attention", "softmax_wrong_axis")
    results = attention.results("softmax_axis")
    assert 0 <= results["score"] < FULL_MARKS["attention"]
    values = attention.test("softmax_axis", "out and attention match the reference without a mask")
    assert values["score"] == 0
    assert hint in values["output"].splitlines(), values["output"]
    sdpa = attention.group("softmax_axis", "scaled_dot_product_attention")
    # the in-place check asks for the right shapes and unchanged inputs only: this answer has both
    checked = [t for t in sdpa if "signature" not in t["name"] and "in place" not in t["name"]]
    assert_all_failed(checked, "Called: scaled_dot_product_attention(")


def test_notebook_submission_gets_full_marks(rnn):
    assert_full_marks(rnn, "notebook")


def test_folder_submission_gets_full_marks(rnn):
    assert_full_marks(rnn, "student_folder")
    assert "student_folder" in rnn.results("student_folder")["output"]


def test_black_formatted_py_gets_full_marks(rnn):
    assert_full_marks(rnn, "black_style")


def test_black_formatted_notebook_gets_full_marks(rnn):
    assert_full_marks(rnn, "notebook_black")


def test_folder_submission_ignores_hidden_folders(rnn):
    assert_full_marks(rnn, "hidden_dir")


def test_notebook_runtime_error_is_reported(attention):
    assert_all_passed(attention.group("unfinished", "scaled_dot_product_attention"))
    mha = attention.group("unfinished", "MultiHeadedAttention")
    assert_all_failed([t for t in mha if "signature" not in t["name"]],
                      f"RuntimeError: not finished yet (line {unfinished_line()}", "(while calling)")


def test_notebook_runtime_error_quotes_the_line(attention):
    values = attention.test("unfinished", "out and attention match the reference (several heads")
    assert f"(line {unfinished_line()}: {UNFINISHED})" in values["output"], values["output"]


def test_zip_with_code_in_a_subfolder_gets_full_marks(attention):
    assert_full_marks(attention, "zipped")


def test_zip_without_code_scores_zero_with_a_clear_message(rnn):
    results = rnn.results("no_code")
    assert results["score"] == 0 and results["max_score"] == FULL_MARKS["rnn"]
    assert_all_failed(results["tests"], "no rnn.py or rnn.ipynb found in the zip")


def test_same_stem_gets_a_suffix(rnn):
    assert (rnn.out / "dup" / "results.json").exists() and (rnn.out / "dup-2" / "results.json").exists()
    assert rnn.results("dup")["score"] == FULL_MARKS["rnn"]  # the first one given is the reference
    assert rnn.results("dup-2")["score"] == 0  # the second is an empty file


@pytest.mark.parametrize("order", [("x.py", "a/x.py", "x-2.py"), ("x-2.py", "x.py", "a/x.py")])
def test_suffixed_names_do_not_clash_with_real_stems(tmp_path, order):
    from dlgrade.batch.run import collect_entries

    paths = [tmp_path / p for p in order]
    for path in paths:
        path.parent.mkdir(exist_ok=True)
        path.write_text("")
    names = [e.name for e in collect_entries(paths, tmp_path / "work")]
    assert len(set(names)) == len(names), names


def test_current_folder_is_named_after_the_folder(tmp_path, monkeypatch):
    from dlgrade.batch.run import collect_entries

    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "rnn.py").write_text("")
    monkeypatch.chdir(folder)
    assert [e.name for e in collect_entries([Path(".")], tmp_path / "work")] == ["alice"]


def test_killed_grading_run_still_writes_results(batches):
    batch = _finished(batches, "killer")
    for name in batch.names:
        assert (batch.out / name / "results.json").exists()
    with (batch.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        assert [r["name"] for r in csv.DictReader(handle)] == batch.names


def test_a_submission_cannot_take_down_the_batch(batches):
    batch = _finished(batches, "killer")
    assert_full_marks(batch, "ref")
    assert_full_marks(batch, "after")  # graded in the same session, or in a fresh one after a kill
    assert batch.results("killer")["score"] == 0


def test_failed_grading_run_still_writes_results(batches):
    batch = _broken(batches)
    fresh = batch.results("fresh")
    assert fresh["score"] == 0
    assert [t["score"] for t in fresh["tests"]] == [0]
    assert "grading run failed" in fresh["tests"][0]["output"]
    with (batch.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        assert [r["name"] for r in csv.DictReader(handle)] == batch.names


def test_failed_grading_run_is_not_reported_as_passed(batches):
    batch = _broken(batches)
    assert all(t["status"] == "failed" for t in batch.tests("fresh")), batch.tests("fresh")


def test_failed_grading_run_does_not_reuse_old_results(batches):
    batch = _broken(batches)
    with (batch.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert float(rows["regraded"]["score"]) == 0
    assert batch.results("regraded")["output"] != "an earlier run"


# -- 2. the gradebook -------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["rnn", "attention", "timeout"])
def test_gradebook_matches_results(batches, key):
    batch = _finished(batches, key)
    with (batch.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        tests = [t["name"] for t in batch.tests("ref" if key != "timeout" else "hangs")]
        assert reader.fieldnames == ["name", "email", "score", "max_score", *tests]
        rows = list(reader)
    assert [r["name"] for r in rows] == batch.names
    for row in rows:
        results = batch.results(row["name"])
        assert row["email"] == ""
        assert float(row["score"]) == pytest.approx(results["score"])
        assert float(row["max_score"]) == pytest.approx(results["max_score"]) == FULL_MARKS[batch.assignment]
        assert [float(row[t["name"]]) for t in results["tests"]] == [t["score"] for t in results["tests"]]
    assert sorted(p.name for p in batch.out.iterdir() if p.is_dir()) == sorted(batch.names)


# -- 3. results.json is valid Gradescope output ----------------------------------------------------------
@pytest.mark.parametrize("key", ["rnn", "attention", "timeout"])
def test_results_files_are_valid(batches, key):
    batch = _finished(batches, key)
    expected_tests = sum(i.params for i in batch.index.values())
    assert sum(i.points * i.params for i in batch.index.values()) == FULL_MARKS[batch.assignment]
    for name in batch.names:
        results = batch.results(name)
        assert isinstance(results["output"], str) and results["output"]
        tests = results["tests"]
        assert len(tests) == expected_tests, (name, [t["name"] for t in tests])
        assert len({t["name"] for t in tests}) == len(tests)
        for test in tests:
            assert {"name", "score", "max_score", "output", "visibility", "status"} <= test.keys(), test
            assert test["visibility"] in {"visible", "after_published"}
            assert test["status"] in {"passed", "failed"}
            assert isinstance(test["output"], str) and test["output"]
            assert 0 <= test["score"] <= test["max_score"]
            assert (test["status"] == "passed") == (test["score"] == test["max_score"])
            if test["status"] == "failed":
                assert "grader error" not in test["output"], test
            info = batch.index[split_title(test["name"], batch.index)[0]]
            assert test["max_score"] == info.points, test
            assert test["visibility"] == ("visible" if info.public else "after_published"), test
        assert results["score"] == pytest.approx(sum(t["score"] for t in tests))
        assert results["max_score"] == pytest.approx(sum(t["max_score"] for t in tests))


@pytest.mark.parametrize("key", ["rnn", "attention"])
def test_public_tests_are_those_marked_public(batches, key):
    batch = _finished(batches, key)
    tests = batch.tests("ref")
    public = sum(i.params for i in batch.index.values() if i.public)
    assert 0 < public < len(tests)
    assert sum(t["visibility"] == "visible" for t in tests) == public
    assert {"rnn": 9, "attention": 8}[key] == public  # the in-place checks are public too


def test_failing_outputs_describe_the_call(rnn):
    for name in ("garbage", "gate_order", "os_exit"):
        for test in rnn.tests(name):
            if test["status"] == "failed" and "signature" not in test["name"]:
                assert test["output"].startswith("Called: "), test


# -- 4. usage errors --------------------------------------------------------------------------------
def _assert_usage_error(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    prog, _, message = lines[0].partition(": error: ")
    assert message and prog == "dlgrade", proc.stderr


def test_unknown_assignment_is_a_usage_error(tmp_path):
    sub = tmp_path / "rnn.py"
    sub.write_text(reference("rnn"))
    proc = run_cli("grade", "--assignment", "transformers", "--out", tmp_path / "out", sub, cwd=tmp_path)
    _assert_usage_error(proc)
    assert "transformers" in proc.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_missing_submission_is_a_usage_error(tmp_path):
    sub = tmp_path / "rnn.py"
    sub.write_text(reference("rnn"))
    proc = run_cli("grade", "--assignment", "rnn", "--out", tmp_path / "out", sub, tmp_path / "nope.py",
                   cwd=tmp_path)
    _assert_usage_error(proc)
    assert "nope.py" in proc.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_negative_timeout_is_a_usage_error(tmp_path):
    sub = tmp_path / "notes.txt"  # graded without a worker: keeps this run short
    sub.write_text("no code\n")
    proc = run_cli("grade", "--assignment", "rnn", "--out", tmp_path / "out", "--timeout=-1", sub, cwd=tmp_path)
    _assert_usage_error(proc)


@pytest.mark.parametrize("args", [(), ("grade",), ("grade", "--assignment", "rnn", "--out", "o"),
                                  ("grade", "--assignment", "rnn", "--out", "o", "--timeout", "soon", "x.py")],
                         ids=["no-arguments", "grade-alone", "no-submissions", "bad-timeout"])
def test_argparse_errors_exit_2(tmp_path, args):
    proc = run_cli(*args, cwd=tmp_path)
    _assert_usage_error(proc)  # one line, naming the command's --help instead of printing its usage
    assert "--help)" in proc.stderr, proc.stderr
