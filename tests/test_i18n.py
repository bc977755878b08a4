"""Students' text in English and Korean: message catalogues, assignment translations, Korean
handouts (skeleton, notebook, README, checks) and Korean feedback from the graders."""
from __future__ import annotations

import ast
import html
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch
from conftest import dlgrade_cmd

from dlgrade.authoring.generate import skeleton, translated_source
from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment
from dlgrade.authoring.template import todo_comments
from dlgrade.authoring.translations import TranslationError, assignment_text, english_text, translation_problems
from dlgrade.batch.entries import Entry
from dlgrade.batch.gradebook import Graded
from dlgrade.batch.report import write_report
from dlgrade.exposed import wire
from dlgrade.grading import results as gs
from dlgrade.handout.checks import load_checks
from dlgrade.judging import feedback
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS, Messages, catalogue, fields
from dlgrade.supervisor.client import WorkerClient
from dlgrade.supervisor.submission import Chunk, Submission

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


@pytest.mark.parametrize("lang", LANGS)
def test_every_place_an_answer_can_fail_in_is_worded(lang):
    # a failure while running is worded by the worker client's own message (see kinds._error)
    unworded = [w.value for w in wire.Where if w != wire.Where.RUNNING and not Messages(lang).has(f"where.{w.value}")]
    assert unworded == []


# -- Korean grammar that must not depend on an inserted value ---------------------------------
# A particle or copula ending whose spelling depends on the last sound of the word before it (이/가,
# 을/를, 은/는, 와/과, (으)로, (이)나, (이)며, (이)라, 이어야/여야, 이었/였, 이에요/예요, (이)야, ...)
# right after a value we insert is right for some values only; the "이(가)" way of writing both
# reads mechanically. Invariant ones (의, 에, 에서, 인, 인데, 일, 입니다, 도, 만, ...) may follow a value.
_ALTERNATIVES = re.compile(r"[\uac00-\ud7a3]\((?:이|가|을|를|은|는|와|과|으|아|야|이라|라)\)"
                           r"|\((?:이|가|을|를|은|는|와|과|으|아|야)\)[\uac00-\ud7a3]")
_VALUE = r"\{[^{}]*\}[`'\"\u2019\u201d)\]*_]*"  # a {field}, then what may close it (a quote, a bracket)
_PARTICLE_AFTER_VALUE = re.compile(_VALUE + r"(?=[이가을를은는와과으로나며라란랑여였예야아든])[\uac00-\ud7a3]+")


def value_dependent_grammar(text: str) -> list[str]:
    """The places in ``text`` whose Korean grammar depends on an inserted value, or that write
    both forms of a particle."""
    return [m.group(0) for pattern in (_ALTERNATIVES, _PARTICLE_AFTER_VALUE) for m in pattern.finditer(text)]


def _strings(value: object) -> list[str]:
    """Every string in a TOML value (tables and arrays walked)."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for item in items for s in _strings(item)]


@pytest.mark.parametrize("text, places", [
    ("{expected}이(가) 나와야 하는데 {got}이(가) 나왔습니다", ["이(가)", "이(가)", "{expected}이", "{got}이"]),
    ("입력 {name}을(를) 수정했습니다", ["을(를)", "{name}을"]),
    ("{x}가 {x}를 `{x}`는 {x})로 {x}으로 {x}와 {x}이어야 {x}여야 {x}라고",
     ["{x}가", "{x}를", "{x}`는", "{x})로", "{x}으로", "{x}와", "{x}이어야", "{x}여야", "{x}라고"]),
    ("값이 (으)로 끝납니다", ["(으)로"]),
    ("{name}: 기댓값은 {expected}인데 실제 값은 {got}입니다; 위치 {where}의 값, {where}에서, {n}개, {s}초", []),
    ("`LSTMCell.forward`를 구현하세요. 입력(x와 주어진 상태)을 제자리(in-place)에서, (가) 항목", []),
], ids=["i-ga", "eul-reul", "attached", "eu-ro", "invariant", "our-words"])
def test_the_grammar_check_finds_value_dependent_particles(text, places):
    assert value_dependent_grammar(text) == places


def test_korean_grammar_never_depends_on_an_inserted_value():
    texts = {f"messages/ko.py {key}": message for key, message in catalogue("ko").items()}
    for name in ASSIGNMENTS:
        path = get_assignment(name).spec_dir / "ko.toml"
        for number, text in enumerate(_strings(tomllib.loads(path.read_text(encoding="utf-8")))):
            texts[f"{name}/ko.toml #{number}"] = text
    found = {where: places for where, text in texts.items() if (places := value_dependent_grammar(text))}
    assert found == {}


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
    """The Korean build's folder: ``--out DIR`` puts it in ``DIR/ko/`` (English in ``DIR/``)."""
    out = tmp_path_factory.mktemp("dist-ko")
    proc = subprocess.run(dlgrade_cmd("build", "--lang", "ko", "--assignment", "rnn", "--out", str(out)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ko"]
    return out / "ko"


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


@pytest.mark.parametrize("lang, doing, question", [("en", "while running", "(an infinite loop?)"),
                                                    ("ko", "실행 중", "(무한 루프인가요?)")])
def test_a_timeout_says_once_what_was_going_on(lang, doing, question):
    source = "def spin(x):\n    while True: pass\n"
    request = {"op": "call", "target": "spin", "init": None, "dtype": "float32", "method": "forward",
               "args": [torch.ones(1)], "kwargs": {}, "grad_outputs": None, "state_dict": None}
    with WorkerClient(Submission("t", [Chunk("t.py", source)]), "attention", get_assignment("attention").forbidden,
                      call_timeout=1.0, lang=lang) as client:
        [answer] = client.stream([(request, None)])
    message = feedback.feedback("values", request, {"ok": True, "out": torch.zeros(1)}, answer, lang=lang)
    assert message.endswith(question), message
    assert message.count(doing) == 1, message
    parts = re.findall(r"\([^()]*\)", message)
    assert len(parts) == len(set(parts)), message
    assert "(실행 중)" not in message and "(while running)" not in message, message


def test_the_score_line_of_results_json_is_in_the_students_language():
    tests = [gs.TestResult("검사", 1.0, 2.0, "x", "visible"), gs.TestResult("검사 2", 6.0, 19.0, "y", "visible")]
    assert gs.gradescope_results(tests, "rnn: rnn.py")["output"] == "rnn: rnn.py\nScore: 7 / 21"
    assert gs.gradescope_results(tests, "rnn: rnn.py", lang="ko")["output"] == "rnn: rnn.py\n점수: 7 / 21"


def test_a_korean_feedback_page_is_korean_and_the_report_stays_english(tmp_path):
    title = assignment_text(get_assignment("rnn"), "ko").title
    test = gs.TestResult("셀의 출력이 참조 구현과 일치합니다", 0.0, 2.0, "호출: x", "visible")
    results = gs.gradescope_results([test], "rnn: rnn.py", lang="ko")
    batch = [Graded(Entry("Kim_Minji", Path("rnn.py"), "김민지", "minji@example.com"), results)]
    report = write_report(tmp_path, batch, "rnn: grading report", "ko", title).read_text(encoding="utf-8")
    page = (tmp_path / "Kim_Minji" / "feedback.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in page and '<html lang="en">' in report
    t = Messages("ko")
    said = (t("page.feedback_title", title=title, name="김민지 <minji@example.com>"), t("page.score"),
            t("page.back_to_report"), t("results.score", score=0, max_score=2))
    assert all(html.escape(words) in page for words in said), page
    frame = re.sub(r"<style>.*?</style>|<[^>]*>", "", page, flags=re.S)  # what the page says: its text
    assert [word for word in ("score", "report", "feedback for", "grading") if word in frame.lower()] == []
    write_report(tmp_path / "en", batch, "rnn: grading report")
    english = (tmp_path / "en" / "Kim_Minji" / "feedback.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and "<title>Feedback for 김민지 — rnn: grading report</title>" in english


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
