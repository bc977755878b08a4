"""Students' text in English and Korean: message catalogues, assignment translations, Korean
handouts (skeleton, notebook, README, checks) and Korean feedback from the graders."""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import dlgrade_cmd

from dlgrade.authoring.generate import skeleton, translated_source
from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment
from dlgrade.authoring.template import todo_comments
from dlgrade.authoring.translations import TranslationError, assignment_text, english_text, translation_problems
from dlgrade.handout.checks import load_checks
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS, Messages, catalogue, fields

PACKAGE = Path(__file__).resolve().parents[1] / "dlgrade"
TRANSLATIONS = [lang for lang in LANGS if lang != DEFAULT_LANG]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


# -- message catalogues -----------------------------------------------------------------------

@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_catalogue_has_the_same_keys_and_fields_as_english(lang):
    english, other = catalogue(DEFAULT_LANG), catalogue(lang)
    assert sorted(set(english) - set(other)) == [], f"missing in {lang}"
    assert sorted(set(other) - set(english)) == [], f"only in {lang}"
    assert {k: fields(v) for k, v in other.items()} == {k: fields(v) for k, v in english.items()}


def _keys_used_in_code() -> set[str]:
    used = set()
    for path in PACKAGE.rglob("*.py"):
        if "messages" not in path.parts:
            used |= set(re.findall(r"""(?:\bt|\))\(\s*["']([a-z]+\.[a-z_]+)["']""", path.read_text()))
    return used


def test_code_uses_only_catalogued_keys_and_every_key_is_used():
    used, known = _keys_used_in_code(), set(catalogue(DEFAULT_LANG))
    assert used, "the scan found no message keys at all"
    assert sorted(used - known) == []
    # Messages.where(...), feedback's _kind(...) and the factor diagnosis' Finding.hint (its keys
    # are checked against the factors in test_factor_diagnosis)
    looked_up_by_prefix = ("where.", "kind.", "factor.")
    assert sorted(k for k in known - used if not k.startswith(looked_up_by_prefix)) == []


def test_hint_keeps_its_prefix_in_every_language():
    for lang in LANGS:
        assert Messages(lang)("feedback.hint", hint="x") == "Hint: x"


def test_unknown_phrases_pass_through_and_known_ones_are_translated():
    assert Messages("ko").where("calling") == "호출"
    assert Messages("ko").where("something new") == "something new"


# -- assignment translations ------------------------------------------------------------------

@pytest.mark.parametrize("lang", TRANSLATIONS)
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_assignment_is_translated_completely(name, lang):
    assignment = get_assignment(name)
    assert translation_problems(assignment, lang) == []
    text, english = assignment_text(assignment, lang), english_text(assignment)
    assert set(text.hints) == set(english.hints) and set(text.tests) == set(english.tests)
    for value in [text.title, text.intro, text.module_doc, *text.hints.values(), *text.tests.values()]:
        assert HANGUL.search(value), value


def _copy_assignment(tmp_path: Path, name: str) -> Assignment:
    repo = get_assignment(name).root
    for part in ("assignments", "solutions", "autograder"):
        shutil.copytree(repo / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    return Assignment(name, tmp_path)


@pytest.mark.parametrize("edit, problem", [
    (lambda t: t.replace("[hints]\n", "[hints]\nno_such_mistake = \"x\"\n"), "hints: 'no_such_mistake' translates nothing"),
    (lambda t: re.sub(r"(?m)^lstm_one_bias = .*\n", "", t), "hints: missing 'lstm_one_bias'"),
    (lambda t: re.sub(r"(?m)^title = .*\n", "", t, count=1), "missing 'title'"),
    (lambda t: t + "\n[todo.extra]\n", "todo: 'extra' translates nothing"),
    (lambda t: t.replace("[todo]", "[todo]\n\"LSTM.forward\" = [\"one\", \"two\"]\n[unused]"),
     "todo.LSTM.forward: expected a list of 1 strings"),
    (lambda t: t + "\nbroken = \n", "cannot be read"),
])
def test_a_translation_that_does_not_match_the_english_is_refused(tmp_path, edit, problem):
    assignment = _copy_assignment(tmp_path, "rnn")
    path = assignment.spec_dir / "ko.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    problems = translation_problems(assignment, "ko")
    assert any(problem in p for p in problems), problems
    with pytest.raises(TranslationError):
        assignment_text(Assignment("rnn", tmp_path), "ko")


def test_a_new_grader_without_a_translation_is_a_missing_key(tmp_path):
    assignment = _copy_assignment(tmp_path, "attention")
    grader = next(assignment.graders_dir.glob("test_*.py"))
    grader.write_text(grader.read_text() + '\n\ndef test_brand_new(grader):\n    """A new check"""\n')
    assert translation_problems(assignment, "ko") == ["tests: missing 'test_brand_new'"]


# -- the Korean skeleton ----------------------------------------------------------------------

def _code_only(source: str) -> str:
    """The code of ``source`` without its module docstring and stub messages (comments never
    reach the AST)."""
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[0], ast.Expr):
        tree.body = tree.body[1:]
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            node.exc.args = []
    return ast.dump(tree)


@pytest.mark.parametrize("lang", TRANSLATIONS)
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_translated_skeleton_is_the_same_code_with_translated_comments(name, lang):
    assignment = get_assignment(name)
    english, translated = skeleton(assignment), skeleton(assignment, lang)
    assert _code_only(translated) == _code_only(english)
    text = assignment_text(assignment, lang)
    assert ast.get_docstring(ast.parse(translated), clean=False) == text.module_doc
    assert todo_comments(translated_source(assignment, lang)) == text.todo
    template = re.escape(Messages(lang)("stub.todo", name="{name}")).replace(re.escape("{name}"), r"[\w.]+")
    raises = re.findall(r'raise NotImplementedError\("(.*)"\)', translated)
    assert len(raises) == english.count("raise NotImplementedError(") and raises
    assert all(re.fullmatch(template, message) for message in raises), raises


# -- a Korean handout, used as a student would ----------------------------------------------

@pytest.fixture(scope="module")
def dist_ko(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist-ko")
    proc = subprocess.run(dlgrade_cmd("build", "--lang", "ko", "--assignment", "rnn", "--out", str(out)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.slow
def test_korean_handout_is_korean(dist_ko, tmp_path):
    with zipfile.ZipFile(dist_ko / "rnn" / "student.zip") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    text = assignment_text(get_assignment("rnn"), "ko")
    nb = nbformat.reads(members["rnn/rnn.ipynb"].decode(), as_version=4)
    assert nb.cells[0].source.startswith(f"# {text.title}")
    assert all(HANGUL.search(c.source) for c in nb.cells if c.cell_type == "markdown")
    assert members["rnn/README.md"].decode().startswith(f"# {text.title}")
    checks_path = tmp_path / "rnn_checks.json"
    checks_path.write_bytes(members["rnn/rnn_checks.json"])
    checks = load_checks(checks_path)
    assert checks.lang == "ko"
    assert {re.sub(r" \[.*\]$", "", t.name) for t in checks.tests} <= set(text.tests.values())
    assert set(checks.hints.values()) <= set(text.hints.values()) and checks.hints
    assert "dlgrade/judging/messages/ko.py" in {n.removeprefix("rnn/") for n in members}
    with zipfile.ZipFile(dist_ko / "rnn" / "autograder.zip") as zf:
        config = json.loads(zf.read("otter_config.json"))
        assert "files/dlgrade_kit/assignments/rnn/ko.toml" in zf.namelist()
    assert config["plugins"] == [{"dlgrade.gradescope.otter_plugin.DlgradePlugin": {"assignment": "rnn", "lang": "ko"}}]
    with zipfile.ZipFile(dist_ko / "rnn" / "solutions.zip") as zf:
        solved = zf.read("rnn/rnn_solution.ipynb").decode()
    assert "[FAIL]" not in solved and Messages("ko")("checks.summary", passed=3, total=3)[:6] in solved


@pytest.mark.slow
def test_korean_checks_speak_korean_and_keep_the_hint_prefix(dist_ko, tmp_path):
    with zipfile.ZipFile(dist_ko / "rnn" / "student.zip") as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / "rnn"
    assignment = get_assignment("rnn")
    mistake = next(m for m in assignment.mistakes if m.id == "lstm_gate_order_ifog")
    (folder / "rnn.py").write_text(mistake.apply(assignment.reference_source))
    proc = subprocess.run([sys.executable, "-m", "dlgrade", "check", "rnn.py"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    hint = assignment_text(assignment, "ko").hints[mistake.id]
    assert f"Hint: {hint}" in proc.stdout
    assert re.search(r"^공개 검사 \d+개 중 \d+개 통과\.$", proc.stdout, re.M), proc.stdout
    assert "호출: LSTMCell(" in proc.stdout and "Called:" not in proc.stdout


@pytest.mark.slow
def test_grading_in_korean_translates_names_feedback_and_hints(tmp_path):
    assignment = get_assignment("attention")
    mistake = next(m for m in assignment.mistakes if m.id == "mask_inverted")
    sub = tmp_path / "attention.py"
    sub.write_text(mistake.apply(assignment.reference_source))
    out = tmp_path / "out"
    proc = subprocess.run(dlgrade_cmd("grade", "--assignment", "attention", "--lang", "ko", "--out", str(out), str(sub)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "attention" / "results.json").read_text())
    text = assignment_text(assignment, "ko")
    assert {t["name"] for t in results["tests"]} == set(text.tests.values())
    outputs = "\n".join(t["output"] for t in results["tests"])
    assert f"Hint: {text.hints[mistake.id]}" in outputs and "호출:" in outputs and "Called:" not in outputs
    assert 0 < results["score"] < results["max_score"]


def test_unknown_language_is_a_one_line_error():
    for command in (("build", "--out", "x", "--lang", "fr"), ("grade", "--assignment", "rnn", "--out", "x",
                                                              "--lang", "fr", "a.py")):
        proc = subprocess.run(dlgrade_cmd(*command), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "invalid choice: 'fr'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_korean_autograder_gives_korean_feedback_through_otter_run(dist_ko, tmp_path):
    assignment = get_assignment("rnn")
    mistake = next(m for m in assignment.mistakes if m.id == "lstm_forget_gate_unused")
    sub = tmp_path / "submission" / "rnn.py"
    sub.parent.mkdir()
    sub.write_text(mistake.apply(assignment.reference_source))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([str(Path(sys.executable).parent / "otter"), "run", "-a", str(dist_ko / "rnn" / "autograder.zip"),
                           "-o", str(out), "--no-logo", str(sub)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    text = assignment_text(assignment, "ko")
    assert {re.sub(r" \[.*\]$", "", t["name"]) for t in results["tests"]} <= set(text.tests.values())
    assert any(f"Hint: {text.hints[mistake.id]}" in t["output"] for t in results["tests"])
    assert 0 < results["score"] < results["max_score"]
