"""Feedback that cannot be forged or inflated by what a submission says.

Student-controlled text (exception messages, load errors, whatever a worker answers) enters the
feedback only quoted (every line of it after ``  | ``, or escaped on one of our lines) and capped
(per block, per test output, per results file), so no line of a results file, ``feedback.html``
or the local checks' report that reads as the grader's (``Hint:``, ``Score:``, ``passed``) comes
from a student, and the report counts hints by catalogue id, never by scanning outputs.

Unit tests of :mod:`dlgrade.judging.student_text`, of the feedback and of the report; then, for
every registered assignment, ONE ``dlgrade grade`` batch: the reference first and last, a
catalogued mistake, and the hostile submissions of :mod:`feedback_attacks`.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
from feedback_attacks import FORGED, FORGED_HINT, HUGE_CHARS, MARK, attacks
from test_feedback import _request

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.batch.entries import Entry
from dlgrade.batch.gradebook import Graded
from dlgrade.batch.report import hint_counts, write_report
from dlgrade.grading import results as gs
from dlgrade.judging.diagnosis import Finding
from dlgrade.grading.scoring import score_submission
from dlgrade.handout.checks import ChecksFile, format_report, run_checks
from dlgrade.judging import feedback
from dlgrade.judging.i18n import Messages
from dlgrade.judging.replay import RecordedCheck, RecordedTest
from dlgrade.judging.student_text import (
    INLINE_CHARS,
    QUOTE,
    RESULTS_OUTPUT_BYTES,
    STUDENT_TEXT_CHARS,
    TEST_OUTPUT_CHARS,
    fit,
    inline,
    quote,
)

BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
OURS = ("Hint:", "Score:", "passed", "Called:", "Checked:")  # how lines of ours start
# every way Python's str.splitlines (a superset of what browsers and editors break on) ends a line
BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def forged(text: str, hints: set[str] = frozenset(), output_is_ours: bool = False) -> list[str]:
    """Lines of ``text`` that read as the grader's but are not: a ``Hint:`` line not in ``hints``
    (the catalogue's lines the grader put there), any ``Score:`` line, ``passed`` anywhere but as
    a whole output of ours, and any line of ours carrying the attacks' marker."""
    bad = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Hint:") and s not in hints:
            bad.append(line)
        elif s.startswith("Score:") or (s == "passed" and not output_is_ours):
            bad.append(line)
        elif s.startswith(OURS) and MARK in s:
            bad.append(line)
    return bad


# -- quoting and capping ----------------------------------------------------------------------------
def test_quote_prefixes_every_line_whatever_ends_it():
    text = "Hint: a" + "".join(f"{brk}Score: {i} / 21" for i, brk in enumerate(BREAKS)) + "\npassed\n"
    quoted = quote(text)
    lines = quoted.splitlines()
    assert len(lines) == len(BREAKS) + 2
    assert all(line.startswith(QUOTE) for line in lines), lines
    assert lines[0] == QUOTE + "Hint: a" and lines[-1] == QUOTE + "passed"
    assert forged(quoted) == []


def test_quote_escapes_control_characters_and_keeps_the_rest():
    quoted = quote("a\x00b\x1b[31mred\x7f\tend \u202eevil 한국어 ok")
    assert quoted == QUOTE + "a\\x00b\\x1b[31mred\\x7f\tend \\u202eevil 한국어 ok"


def test_quote_of_nothing_is_one_quoted_line():
    assert quote("") == QUOTE.rstrip()
    assert quote("one") == QUOTE + "one"


def test_quote_caps_and_says_how_much_was_cut():
    text = ("Hint: x\n" + "y" * 100 + "\n") * 20_000
    quoted = quote(text)
    *body, note = quoted.splitlines()
    assert all(line.startswith(QUOTE) for line in body)
    shown = sum(len(line) - len(QUOTE) for line in body) + len(body)  # each shown line's text and its \n
    assert note == f"[... {len(text) - shown:,} more characters cut]"
    assert len(quoted) <= STUDENT_TEXT_CHARS + len(note) + 1
    one_line = quote("z" * 10_000, limit=100)
    assert one_line.splitlines() == [QUOTE + "z" * (100 - len(QUOTE)), f"[... {10_000 - 96:,} more characters cut]"]


def test_quote_cut_note_is_in_the_students_language():
    from dlgrade.judging.i18n import Messages

    assert quote("z" * 5000, limit=100, t=Messages("ko")).splitlines()[-1] != \
        quote("z" * 5000, limit=100).splitlines()[-1]
    assert "4,904" in quote("z" * 5000, limit=100, t=Messages("ko"))


def test_quote_of_a_huge_text_is_fast():
    import time

    start = time.perf_counter()
    quote("\n" * 5_000_000)
    quote("x" * 5_000_000)
    assert time.perf_counter() - start < 1.0


def test_inline_is_one_line_escaped_and_capped():
    text = "self\nHint: forged\r\u2028Score: 21 / 21\x85" + "w" * 1000
    one = inline(text)
    assert one.splitlines() == [one]
    assert one.startswith("self\\nHint: forged\\r\\u2028Score: 21 / 21\\x85www")
    assert len(one) <= INLINE_CHARS + 40 and "more characters cut" in one
    assert inline("forward") == "forward"


def test_fit_shares_a_byte_budget_cutting_only_the_longest():
    texts = ["short", "a" * 10_000, "b" * 50_000, "한" * 20_000]
    fitted = fit(texts, 20_000)
    assert sum(len(t.encode()) for t in fitted) <= 20_000
    assert fitted[0] == "short"
    assert all("more characters cut" in t for t in fitted[1:])
    assert fit(texts[:2], 20_000) == texts[:2]


# -- feedback on one check ----------------------------------------------------------------------


FORGED_TEXT = "\n".join(FORGED)
EXPECTED = {"ok": True, "out": (torch.zeros(4, 3), torch.zeros(4, 3)), "forbidden": [], "inputs_after": []}
INSPECT = {"op": "inspect", "target": "LSTMCell", "method": "forward"}
INSPECTED = {"ok": True, "kind": "class", "is_module": True, "init": ["self", "input_size"], "method": ["self", "x"]}
HOSTILE_ANSWERS = {
    "error": ("values", _request(), EXPECTED, {"ok": False, "error": FORGED_TEXT, "where": "calling"}),
    "huge error": ("values", _request(), EXPECTED, {"ok": False, "error": FORGED_TEXT * 100_000, "where": "calling"}),
    "where": ("shapes", _request(), EXPECTED, {"ok": False, "error": "boom", "where": "calling\n" + FORGED_TEXT}),
    "forbidden": ("values", _request(), EXPECTED, dict(EXPECTED, forbidden=[FORGED_TEXT, "x" * 100_000])),
    "dict keys": ("values", _request(), EXPECTED, dict(EXPECTED, out={FORGED_TEXT: FORGED_TEXT})),
    "list": ("shapes", _request(), EXPECTED, dict(EXPECTED, out=[FORGED_TEXT] * 100_000)),
    "api error": ("api", INSPECT, INSPECTED, {"ok": False, "error": FORGED_TEXT, "where": "handling the request"}),
    "signature": ("api", INSPECT, INSPECTED, dict(INSPECTED, method=["self", FORGED_TEXT])),
    "signature list": ("api", INSPECT, INSPECTED, dict(INSPECTED, init=[FORGED_TEXT] * 100_000)),
}


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("case", HOSTILE_ANSWERS)
def test_no_answer_forges_a_line_or_inflates_the_feedback(case, lang):
    kind, request, expected, actual = HOSTILE_ANSWERS[case]
    message = feedback.feedback(kind, request, expected, actual, lang=lang)
    assert message is not None
    assert forged(message) == [], message[:3000]
    assert len(message) <= 2 * STUDENT_TEXT_CHARS + 1000, len(message)
    assert MARK in message  # still shown, quoted or escaped: the student learns what went wrong


def test_an_error_is_quoted_under_a_line_of_ours():
    crashed = {"ok": False, "error": "ValueError: boom (line 3: x)\nsecond line", "where": "calling"}
    lines = feedback.feedback("values", _request(), EXPECTED, crashed).splitlines()
    assert lines[0].startswith("Called: LSTMCell(")
    assert "(while calling)" in lines[1] and not lines[1].startswith(QUOTE)
    assert lines[2:] == [QUOTE + "ValueError: boom (line 3: x)", QUOTE + "second line"]


def test_assess_names_the_matching_mistakes_by_id():
    student = dict(EXPECTED, out=(torch.ones(4, 3), torch.zeros(4, 3)))
    mistakes = [("same", "same as the student", student), ("other", "something else", EXPECTED | {
        "out": (torch.full((4, 3), 2.0), torch.zeros(4, 3))}), ("harmless", "harmless", EXPECTED)]
    verdict = feedback.assess("values", _request(), EXPECTED, student, mistakes)
    assert verdict.mistakes == ("same",)
    assert "Hint: same as the student" in verdict.message.splitlines()
    assert feedback.feedback("values", _request(), EXPECTED, student, mistakes) == verdict.message
    assert feedback.assess("values", _request(), EXPECTED, EXPECTED, mistakes) is None


# -- scoring: load errors, results.json -----------------------------------------------------------
class FakeReference:
    """What :func:`dlgrade.grading.recorder.judge` needs of a reference."""

    lang = "en"
    hints = {"gate_order": "gates in the wrong order"}
    assignment = get_assignment("rnn")

    def __init__(self, answers):
        self.answers = answers

    def distinct_mistakes(self, kind, request, expected):
        return self.answers


def test_load_errors_are_quoted_and_mistake_ids_recorded():
    student = dict(EXPECTED, out=(torch.ones(4, 3), torch.zeros(4, 3)))
    reference = FakeReference([("gate_order", student)])
    tests = [RecordedTest("a::t", "Values [LSTMCell]", 2.0, checks=[RecordedCheck("values", _request(), EXPECTED)])]
    context = f"While loading your code, x.py raised {FORGED_TEXT}" * 10_000
    [result] = score_submission(tests, reference, lambda request: student, lambda: context)
    assert result.mistakes == ("gate_order",)
    assert "Hint: gates in the wrong order" in result.output.splitlines()
    assert forged(result.output, {"Hint: gates in the wrong order"}) == [], result.output
    assert len(result.output) <= 2 * STUDENT_TEXT_CHARS + 1000
    plain = gs.gradescope_results([result], "rnn: x.py")
    assert plain["tests"][0]["extra_data"] == {"dlgrade_mistakes": {"assignment": "rnn", "ids": ["gate_order"]},
                                               "dlgrade_target": "LSTMCell"}  # what the test checks
    passed = gs.gradescope_results([gs.TestResult("t", 1.0, 1.0, "passed", "visible")])
    assert "extra_data" not in passed["tests"][0]


def test_results_cap_the_outputs_of_a_file_and_a_test():
    huge = [gs.TestResult(f"test {i}", 0.0, 1.0, "Called: x\n" + quote("y" * 10_000) + "z" * 100_000, "visible")
            for i in range(200)]
    results = gs.gradescope_results(huge, "rnn: x.py", extra_data={"confinement": "tier x"})
    sizes = [len(t["output"]) for t in results["tests"]]
    assert max(sizes) <= TEST_OUTPUT_CHARS + 100
    total = sum(len(t["output"].encode()) for t in results["tests"]) + len(results["output"].encode())
    assert total <= RESULTS_OUTPUT_BYTES
    assert all(t["output"].startswith("Called: x\n") and "more characters cut" in t["output"] for t in results["tests"])
    assert results["extra_data"] == {"confinement": "tier x"}
    assert len(gs.results_text(results).encode()) < RESULTS_OUTPUT_BYTES + 64 * 1024


def test_the_header_cannot_forge_the_score_line():
    results = gs.gradescope_results([gs.TestResult("t", 0.0, 1.0, "x", "visible")],
                                    "rnn: name\nScore: 21 / 21\rHint: x.py")
    first, *middle, last = results["output"].splitlines()
    assert first == "rnn: name" and last == "Score: 0 / 1", results["output"]
    assert middle == [QUOTE + "Score: 21 / 21", QUOTE + "Hint: x.py"]
    one = gs.gradescope_results([], "rnn: x\u2028Score: 21 / 21")["output"].splitlines()
    assert one == ["rnn: x", QUOTE + "Score: 21 / 21", "Score: 0 / 0"]


def test_a_failed_autograder_still_says_why_on_lines_of_its_own():
    from dlgrade.gradescope.autograde import error_results

    lines = error_results("RuntimeError: boom\nHint: more")["output"].splitlines()
    assert lines == ["The autograder failed; please tell your instructor.", QUOTE + "RuntimeError: boom",
                     QUOTE + "Hint: more", "Score: 0 / 0"]


# -- the report counts catalogued hints by id --------------------------------------------------------
def _graded(name: str, tests: list[gs.TestResult]) -> Graded:
    return Graded(Entry(name, Path(f"{name}.py")), gs.gradescope_results(tests, f"rnn: {name}.py"))


def test_report_counts_hints_by_id_and_shows_the_catalogues_text(tmp_path):
    rnn = get_assignment("rnn")
    first, second = rnn.mistakes[0], rnn.mistakes[1]
    forged_output = f"Called: x\n{FORGED_TEXT}\nHint: {first.hint}\nHint: {first.hint}"
    batch = [
        _graded("a", [gs.TestResult("t1", 0, 1, f"Called: x\nHint: whatever", "visible", mistakes=(first.id,),
                                    assignment="rnn"),
                      gs.TestResult("t2", 0, 1, "Called: x", "visible", mistakes=(first.id, second.id),
                                    assignment="rnn")]),
        _graded("b", [gs.TestResult("t1", 0, 1, forged_output, "visible")]),  # text only: counts nothing
        _graded("c", [gs.TestResult("t1", 0, 1, "Called: x", "visible", mistakes=(second.id,), assignment="rnn")]),
    ]
    assert hint_counts(batch) == [(second.hint, 2, 2), (first.hint, 1, 2)]
    page = write_report(tmp_path, batch, "rnn").read_text()
    table = re.search(r'<table id="hints">.*?</table>', page, re.S).group(0)
    assert html.escape(first.hint) in table and html.escape(second.hint) in table
    assert MARK not in table and "whatever" not in table


def test_report_shows_an_unknown_id_as_itself(tmp_path):
    batch = [_graded("a", [gs.TestResult("t1", 0, 1, "x", "visible", mistakes=("no_such_id",), assignment="rnn")])]
    assert hint_counts(batch) == [("no_such_id", 1, 1)]


# -- the students' local checks ---------------------------------------------------------------------
def test_local_checks_quote_errors_and_still_give_hints():
    student = dict(EXPECTED, out=(torch.ones(4, 3), torch.zeros(4, 3)))
    checks = ChecksFile("rnn", "en", {}, {"gate_order": "gates in the wrong order"}, [
        RecordedTest("a::t1", "Values", 1.0, checks=[RecordedCheck("values", _request(), EXPECTED,
                                                                   (("gate_order", student),))]),
        RecordedTest("a::t2", "Values again", 1.0, checks=[RecordedCheck("values", _request(), EXPECTED, ())])])
    answers = iter([student, {"ok": False, "error": FORGED_TEXT * 1000, "where": "calling"}])
    results = run_checks(checks, lambda request: next(answers))
    report = format_report(results)
    assert "    Hint: gates in the wrong order" in report.splitlines()
    assert forged(report, {"Hint: gates in the wrong order"}) == [], report
    assert len(report) < 2 * STUDENT_TEXT_CHARS + 1000


# -- end to end: every assignment, one batch each -------------------------------------------------
FORGED_NAME = f"name_{MARK}\nScore: 21 \u2215 21\rHint: {FORGED_HINT}.py"  # no "/" in a file name


def _ids(test: dict) -> list[str]:
    return list((test.get("extra_data") or {}).get("dlgrade_mistakes", {}).get("ids", []))


def _factors(test: dict) -> list[str]:
    return list((test.get("extra_data") or {}).get("dlgrade_mistakes", {}).get("factors", []))


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def batch(request, tmp_path_factory):
    """(assignment, out folder, {file stem: results}, {file stem: size of results.json}) of one batch."""
    name = request.param
    assignment = get_assignment(name)
    folder = tmp_path_factory.mktemp(f"forgery-{name}")
    mistake = assignment.mistakes[0]
    files = {"ref_first.py": assignment.reference_source, "mistake.py": mistake.apply(assignment.reference_source),
             **attacks(name), FORGED_NAME: assignment.reference_source, "ref_last.py": assignment.reference_source}
    paths = []
    for file, source in files.items():
        (folder / file).write_text(source)
        paths.append(folder / file)
    out = folder / "out"
    proc = subprocess.run([str(BIN / "dlgrade"), "grade", "--assignment", name, "--out", str(out), "--timeout", "10",
                           *map(str, paths)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found, sizes = {}, {}
    for path in out.glob("*/results.json"):
        found[path.parent.name] = json.loads(path.read_text())
        sizes[path.parent.name] = path.stat().st_size
    assert len(found) == len(files), sorted(found)
    return assignment, out, found, sizes


def _by_stem(found: dict, stem: str) -> dict:
    [key] = [k for k in found if k == stem or (stem == "forged_name" and k.startswith("name_"))]
    return found[key]


def test_references_around_the_attacks_get_full_marks(batch):
    _, _, found, _ = batch
    for stem in ("ref_first", "ref_last", "print_forged", "forged_name"):
        results = _by_stem(found, stem)
        lost = [(t["name"], t["output"][:300]) for t in results["tests"] if t["score"] < t["max_score"]]
        assert results["score"] == results["max_score"] > 0, (stem, lost)


def test_results_files_stay_under_the_caps(batch):
    _, out, found, sizes = batch
    for stem, results in found.items():
        outputs = [results["output"], *(t["output"] for t in results["tests"])]
        assert sum(len(o.encode()) for o in outputs) <= RESULTS_OUTPUT_BYTES, stem
        assert sizes[stem] <= RESULTS_OUTPUT_BYTES + 64 * 1024, (stem, sizes[stem])
        assert all(len(t["output"]) <= TEST_OUTPUT_CHARS + 100 for t in results["tests"]), stem
        assert (out / stem / "feedback.html").stat().st_size <= 2 * RESULTS_OUTPUT_BYTES, stem
    huge = found["raise_huge"]
    assert any("more characters cut" in t["output"] and (QUOTE + "Hint: ") in t["output"] for t in huge["tests"])
    assert huge["score"] < huge["max_score"]


def test_no_line_of_student_origin_reads_as_ours(batch):
    assignment, _, found, _ = batch
    english = Messages()
    hints = {m.id: f"Hint: {m.hint}" for m in assignment.mistakes}
    for stem, results in found.items():
        *header, score = results["output"].splitlines()
        assert score == f"Score: {results['score']:g} / {results['max_score']:g}", (stem, results["output"])
        assert forged("\n".join(header)) == [], (stem, results["output"])
        for test in results["tests"]:
            ours = {hints[i] for i in _ids(test)} | {f"Hint: {Finding.from_id(f).hint(english)}" for f in _factors(test)}
            passed = test["output"] == "passed" and test["score"] == test["max_score"]
            where = (stem, test["name"], test["output"][:2000])
            assert forged(test["output"], ours, output_is_ours=passed) == [], where
            shown = {line.strip() for line in test["output"].splitlines() if line.startswith("Hint:")}
            assert shown == ours, (stem, test["name"])  # every Hint: line is a recorded id's (catalogue, factor)


def test_the_attacks_feedback_still_says_what_went_wrong(batch):
    _, _, found, _ = batch
    for stem in ("raise_huge", "load_error", "load_error_nb", "forged_answers"):
        results = found[stem]
        assert results["score"] < results["max_score"], stem
        # a load error is said above the tests, once; what a call raised, in the test
        said = results["output"] if stem.startswith("load_error") else "".join(t["output"] for t in results["tests"])
        assert MARK in said, stem


def test_the_report_counts_only_catalogued_hints(batch):
    assignment, out, found, _ = batch
    page = (out / "report.html").read_text()
    table = re.search(r'<table id="hints">.*?</table>', page, re.S).group(0)
    assert MARK not in table and "Score:" not in table and html.escape(FORGED_HINT) not in table
    mistake = assignment.mistakes[0]
    assert any(mistake.id in _ids(t) for t in found["mistake"]["tests"])
    assert html.escape(mistake.hint) in table
    assert HUGE_CHARS > RESULTS_OUTPUT_BYTES  # the attacks are bigger than what a results file may hold
