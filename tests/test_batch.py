"""Batch grading without real graders: parallel sessions, progress, gradebook and report.

``run_graders`` is replaced by a fake that writes ``results.json`` files the way a pytest session
does (one per submission, as it goes), so these tests run in a second and can stage killed and
failed sessions exactly.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import threading
import time
import unicodedata
from pathlib import Path

import pytest

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.batch import run as grade_module
from dlgrade.batch.gradebook import Graded, grader_columns, score_table, write_gradebook
from dlgrade.batch.progress import Progress
from dlgrade.batch.report import OTHER_TESTS, grouped_pass_rates, hint_counts, pass_rates, summarize, write_report
from dlgrade.batch.tables import render, show
from dlgrade.batch.run import grade_batch, split_chunks
from dlgrade.grading import results as gs
from dlgrade.grading.options import GradingOptions
from dlgrade.batch.entries import Entry
from dlgrade.grading.results import gradescope_results, write_results

TESTS = [("Shapes [LSTMCell]", 1.0), ("Values [LSTMCell]", 2.0), ("Values [GRUCell]", 2.0)]


def fake_results(passed: set[str], hints: dict[str, list[str]] | None = None,
                 factors: dict[str, list[str]] | None = None) -> dict:
    """results.json passing the tests in ``passed``; ``hints[test]`` adds ``Hint:`` lines (and the
    mistakes' ids, here the hints themselves) to a failure, ``factors[test]`` factor findings' ids."""
    hints, factors = hints or {}, factors or {}
    tests = []
    for name, points in TESTS:
        ok = name in passed
        output = "passed" if ok else "Called: X\n" + "".join(f"Hint: {h}\n" for h in hints.get(name, []))
        ids = () if ok else tuple(hints.get(name, []))  # the report counts the judge's ids, not the text
        tests.append(gs.TestResult(name, points if ok else 0.0, points, output, "visible", mistakes=ids,
                                   assignment="rnn", factors=() if ok else tuple(factors.get(name, []))))
    return gradescope_results(tests, "rnn: x.py")


def graded(name: str, passed: set[str], label: str = "", email: str = "", **kw) -> Graded:
    return Graded(Entry(name, Path(f"{name}.py"), label, email), fake_results(passed, **kw))


# -- a fake pytest session -------------------------------------------------------------------------
class FakeSessions:
    """Stands in for ``run_graders``: grades each entry per its file's text.

    ``full`` (or a folder) -> all passed, ``kill`` -> the session dies by SIGKILL before writing it,
    ``crash`` -> the session exits 3 having written nothing; ``barrier`` makes every session wait
    until ``parties`` of them run at once (so a test fails if they do not).
    """

    def __init__(self, parties: int = 1, delay: float = 0.0) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.delay = delay
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.calls: list[list[str]] = []
        self.jobs: list[int | None] = []
        self.langs: list[str] = []

    def __call__(self, assignment, entries, results_dir, options):
        with self.lock:
            self.calls.append([e.name for e in entries])
            self.jobs.append(options.jobs)
            self.langs.append(options.lang)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if len(self.calls) <= self.barrier.parties:
                self.barrier.wait()
            for entry in entries:
                kind = entry.path.read_text().strip() if entry.path.is_file() else "full"
                if kind in ("kill", "crash"):
                    return subprocess.CompletedProcess([], -9 if kind == "kill" else 3, "", f"{kind} at {entry.name}")
                time.sleep(self.delay)
                results = fake_results({n for n, _ in TESTS} if kind == "full" else set())
                write_results(results_dir / entry.name / "results.json", results)
            return subprocess.CompletedProcess([], 0, f"graded {len(entries)}", "")
        finally:
            with self.lock:
                self.running -= 1


def write_subs(folder: Path, kinds: dict[str, str]) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, kind in kinds.items():
        (folder / f"{name}.py").write_text(kind)
        paths.append(folder / f"{name}.py")
    return paths


@pytest.fixture
def rnn():
    return get_assignment("rnn")


def test_split_chunks_covers_everything_in_order():
    entries = [Entry(f"s{i}", Path(f"s{i}.py")) for i in range(7)]
    for jobs in range(1, 10):
        chunks = split_chunks(entries, jobs)
        assert [e for c in chunks for e in c] == entries
        assert len(chunks) == min(jobs, 7)
        assert max(map(len, chunks)) - min(map(len, chunks)) <= 1
    assert split_chunks([], 4) == []


@pytest.mark.parametrize("sessions", [1, 2, 3])
def test_sessions_run_in_parallel(tmp_path, monkeypatch, rnn, sessions):
    fake = FakeSessions(parties=sessions)
    monkeypatch.setattr(grade_module, "run_graders", fake)
    paths = write_subs(tmp_path / "subs", {f"s{i}": "full" for i in range(7)})
    batch = grade_batch(rnn, paths, tmp_path / "out", GradingOptions(jobs=6, sessions=sessions), report=False)
    assert fake.most == sessions and len(fake.calls) == sessions
    assert fake.jobs == [6 // sessions] * sessions  # the workers are shared out between the sessions
    assert sorted(n for call in fake.calls for n in call) == sorted(f"s{i}" for i in range(7))
    assert [g.entry.name for g in batch] == [f"s{i}" for i in range(7)]
    assert all(g.results["score"] == 5 for g in batch)
    log = (tmp_path / "out" / "grading.log").read_text()
    assert all(f"=== session {n}.1 ===" in log for n in range(1, sessions + 1))


@pytest.mark.parametrize(("cpus", "sessions"), [(2, 1), (3, 1), (7, 2), (8, 2), (13, 3)])
def test_jobs_default_to_one_more_than_the_cpus_with_a_session_per_four(tmp_path, monkeypatch, rnn, cpus,
                                                                         sessions):
    fake = FakeSessions(parties=sessions)
    monkeypatch.setattr(grade_module, "run_graders", fake)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    grade_batch(rnn, write_subs(tmp_path / "subs", {f"s{i}": "full" for i in range(5)}), tmp_path / "out",
                report=False)
    assert fake.most == sessions and fake.jobs == [(cpus + 1) // sessions] * sessions


def test_killed_session_blames_its_current_submission_only(tmp_path, monkeypatch, rnn):
    fake = FakeSessions(parties=2)
    monkeypatch.setattr(grade_module, "run_graders", fake)
    kinds = {"a": "full", "b": "kill", "c": "full", "d": "full", "e": "full", "f": "full"}
    seen = []
    batch = grade_batch(rnn, write_subs(tmp_path / "subs", kinds), tmp_path / "out", GradingOptions(jobs=2, sessions=2),
                        report=False, progress=lambda entry, results: seen.append((entry.name, results["score"])))
    scores = {g.entry.name: g.results["score"] for g in batch}
    assert scores == {"a": 5, "b": 0, "c": 5, "d": 5, "e": 5, "f": 5}
    assert "killed (signal 9) while grading it" in batch[1].results["tests"][0]["output"]
    assert sorted(fake.calls) == [["a", "b", "c"], ["c"], ["d", "e", "f"]]  # only c is graded again
    assert sorted(seen) == sorted(scores.items())  # each one reported once, the culprit included
    for name in scores:
        assert json.loads((tmp_path / "out" / name / "results.json").read_text())["score"] == scores[name]


def test_failed_session_gives_placeholders_and_others_are_unaffected(tmp_path, monkeypatch, rnn):
    fake = FakeSessions(parties=2)
    monkeypatch.setattr(grade_module, "run_graders", fake)
    out = tmp_path / "out"
    write_results(out / "b" / "results.json", fake_results({n for n, _ in TESTS}))  # stale, from a past run
    batch = grade_batch(rnn, write_subs(tmp_path / "subs", {"a": "full", "b": "crash", "c": "full", "d": "full"}),
                        out, GradingOptions(jobs=2, sessions=2), report=False)
    scores = {g.entry.name: g.results["score"] for g in batch}
    assert scores == {"a": 5, "b": 0, "c": 5, "d": 5}
    placeholder = batch[1].results["tests"]
    assert [(t["name"], t["status"]) for t in placeholder] == [("grading run", "failed")]
    assert "pytest exit status 3" in placeholder[0]["output"]
    assert json.loads((out / "b" / "results.json").read_text())["score"] == 0


def test_progress_reports_each_submission_as_it_finishes(tmp_path, monkeypatch, rnn):
    fake = FakeSessions(parties=2, delay=0.3)
    monkeypatch.setattr(grade_module, "run_graders", fake)
    stream = io.StringIO()
    progress = Progress(stream, tty=False)
    stamps = []
    original = Progress.__call__

    def spy(self, entry, results):
        stamps.append(time.monotonic())
        original(self, entry, results)

    monkeypatch.setattr(Progress, "__call__", spy)
    start = time.monotonic()
    grade_batch(rnn, write_subs(tmp_path / "subs", {f"s{i}": "full" for i in range(6)}), tmp_path / "out",
                GradingOptions(jobs=2, sessions=2), progress=progress, on_start=progress.start, report=False)
    end = time.monotonic()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6
    for number, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"\[{number}/6\] s\d: 5/5 \(\d+ s\)", line), line
    assert stamps[0] - start < (end - start) / 2  # the first was told long before the batch ended


def test_progress_on_a_terminal_is_an_in_place_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress(stream)
    assert progress.tty
    progress.start(2)
    progress(Entry("kim", Path("kim.py"), "Kim Minji"), {"score": 3, "max_score": 5})
    progress(Entry("lee", Path("lee.py")), {"score": 5, "max_score": 5})
    progress.close()
    text = stream.getvalue()
    assert "\r" in text and "grading 2/2" in text and "elapsed" in text
    assert "[1/2]" not in text
    assert not Progress(io.StringIO()).tty


# -- gradebook --------------------------------------------------------------------------------------
def read_gradebook(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads the names right
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_gradebook_has_a_column_per_test(tmp_path):
    batch = [graded("kim", {"Shapes [LSTMCell]", "Values [GRUCell]"}, "Kim Minji", "minji@example.edu"),
             graded("lee", set(), "=HYPERLINK(\"http://x\")", "+lee@example.edu"),
             Graded(Entry("park", Path("park.py")),
                    gradescope_results([gs.TestResult("grading run", 0, 0, "killed", "visible", ran=False)]))]
    write_gradebook(tmp_path / "gradebook.csv", batch)
    rows = read_gradebook(tmp_path / "gradebook.csv")
    assert rows[0] == ["name", "email", "score", "max_score", "Shapes [LSTMCell]", "Values [LSTMCell]",
                       "Values [GRUCell]", "grading run"]
    assert rows[1] == ["Kim Minji", "minji@example.edu", "3", "5", "1", "0", "2", ""]
    assert rows[2] == ["'=HYPERLINK(\"http://x\")", "'+lee@example.edu", "0", "5", "0", "0", "0", ""]
    assert rows[3] == ["park", "", "0", "0", "", "", "", "0"]
    assert grader_columns(list(reversed(batch))) == rows[0][4:]  # stable whatever the order


def test_score_table_shows_display_names():
    table = render(score_table([graded("Kim_Minji", {"Shapes [LSTMCell]"}, "Kim Minji")]))
    assert "Kim Minji" in table and "1/5" in table and "1/3" in table


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and fullwidth characters count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cell_spans(line: str, cells: list[str]) -> list[tuple[int, int]]:
    """The display columns (start, end) of each of ``cells`` in ``line``, found left to right."""
    spans, start = [], 0
    for cell in cells:
        found = line.index(cell, start)
        start = found + len(cell)
        spans.append((width(line[:found]), width(line[:start])))
    return spans


def test_score_table_lines_up_korean_names_by_display_width_and_tells_namesakes_apart():
    batch = [graded("Kim_Minji", set(), "김민지"), graded("Kim_Minji-2", {n for n, _ in TESTS}, "김민지"),
             graded("Lee", {"Shapes [LSTMCell]"}, "Lee [bold]Jun[/bold] 이준")]
    lines = render(score_table(batch)).splitlines()
    assert len(lines) == 5 and lines[0].split() == ["submission", "results", "folder", "score", "passed"]
    assert set(lines[1]) == {"-"}
    rows = [["김민지", "Kim_Minji", "0/5", "0/3"], ["김민지", "Kim_Minji-2", "5/5", "3/3"],
            ["Lee [bold]Jun[/bold] 이준", "Lee", "1/5", "1/3"]]  # student text is never read as markup
    spans = [cell_spans(line, row) for line, row in zip(lines[2:], rows)]
    header = cell_spans(lines[0], ["submission", "results folder", "score", "passed"])
    assert {s[1][0] for s in spans} == {header[1][0]}, lines  # the folder column starts at one display column
    for column in (2, 3):  # the numbers are right-aligned under their headers
        assert {s[column][1] for s in spans} == {header[column][1]}, lines
    assert lines[2] != lines[3]  # two students of the same name: their folders differ
    assert not any("\x1b" in line or line != line.rstrip() for line in lines)  # plain: no colour, no padding


def test_score_table_without_exports_has_no_folder_column():
    lines = render(score_table([graded("alice", set()), graded("bob", set())])).splitlines()
    assert lines[0].split() == ["submission", "score", "passed"]
    assert lines[2].split() == ["alice", "0/5", "0/3"]


def test_tables_are_styled_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        show(score_table([graded("kim", set(), "김민지")]), file=stream)
    assert pipe.getvalue() == render(score_table([graded("kim", set(), "김민지")])) + "\n"
    assert pipe.getvalue().replace("김민지", "").isascii()  # no colour codes, no box drawing
    assert "김민지" in terminal.getvalue() and "─" in terminal.getvalue()


# -- report -----------------------------------------------------------------------------------------
HOSTILE = '<script>alert("x")</script> & <b>'


def report_batch() -> list[Graded]:
    all_tests = {n for n, _ in TESTS}
    return [
        graded("kim", all_tests, "Kim Minji", "minji@example.edu"),
        graded("lee", {"Shapes [LSTMCell]"}, "Lee", hints={"Values [LSTMCell]": ["gate order", "detached"],
                                                             "Values [GRUCell]": ["gate order"]}),
        graded("choi", {"Shapes [LSTMCell]", "Values [GRUCell]"}, "Choi", hints={"Values [LSTMCell]": ["gate order"]}),
        graded("evil", set(), HOSTILE, "e@x.org", hints={"Values [GRUCell]": [HOSTILE]}),
    ]


def test_summary_pass_rates_and_hints():
    batch = report_batch()
    s = summarize(batch)
    assert (s.count, s.mean, s.median, s.highest, s.lowest, s.max_score) == (4, 2.25, 2.0, 5, 0, 5)
    assert pass_rates(batch) == [("Shapes [LSTMCell]", 1, 3, 4), ("Values [LSTMCell]", 2, 1, 4),
                                 ("Values [GRUCell]", 2, 2, 4)]
    assert hint_counts(batch) == [("gate order", 2, 3), (HOSTILE, 1, 1), ("detached", 1, 1)]


def test_report_counts_what_failures_depend_on_by_finding():
    from dlgrade.batch.report import factor_counts
    from dlgrade.judging.diagnosis import Finding
    from dlgrade.judging.i18n import Messages

    bias, batch_of_one = "bias:True->False", "batch:1->>1"
    batch = [graded("a", set(), factors={"Values [LSTMCell]": [bias], "Values [GRUCell]": [bias, batch_of_one]}),
             graded("b", set(), factors={"Values [GRUCell]": [bias]}),
             graded("c", set(), factors={"Values [GRUCell]": ["<not a finding>"]}), graded("d", {n for n, _ in TESTS})]
    english = Messages()
    assert factor_counts(batch) == [(Finding.from_id(bias).hint(english), 2, 3),
                                    ("<not a finding>", 1, 1), (Finding.from_id(batch_of_one).hint(english), 1, 1)]


def test_report_is_self_contained_and_escaped(tmp_path):
    batch = report_batch()
    path = write_report(tmp_path, batch, "rnn: <report>")
    page = path.read_text()
    assert path == tmp_path / "report.html"
    assert "<script>" not in page and html.escape(HOSTILE) in page
    assert "&lt;report&gt;" in page
    assert re.search(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', page)
    assert "<link" not in page and not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched
    for g in batch:
        assert f'href="{g.entry.name}/feedback.html"' in page
    assert '<td class="num" id="mean">2.25</td>' in page
    assert re.search(r"<td class=\"num\">2</td><td class=\"num\">3</td><td>gate order</td>", page)
    png = (tmp_path / "scores.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_feedback_pages_show_every_test_escaped(tmp_path):
    batch = report_batch()
    write_report(tmp_path, batch, "rnn")
    page = (tmp_path / "evil" / "feedback.html").read_text()
    assert "<script>" not in page and html.escape(HOSTILE) in page
    for name, points in TESTS:
        assert f"{html.escape(name)}: 0 / {points:g}" in page
    assert page.count("<pre>") == len(TESTS) + 1
    assert 'href="../report.html"' in page


ALIKE = [("out and attention match the reference (several heads, n_Q != n_K)", "MultiHeadedAttention"),
         ("out and attention match the reference without a mask (n_Q != n_K)", "scaled_dot_product_attention"),
         ("out and attention match the reference with a padding and a causal mask", "MultiHeadedAttention"),
         ("a test that says nothing of its target", "")]


def alike_batch() -> list[Graded]:
    """Attention's tests whose names read alike, multi-head ones first (as the graders' files
    sort), and one test that recorded no target."""
    def results(passed: int) -> dict:
        return gradescope_results([gs.TestResult(name, 1.0 if i < passed else 0.0, 1.0, "x", "visible", target=target)
                                   for i, (name, target) in enumerate(ALIKE)])

    return [Graded(Entry("a", Path("a.py")), results(4)), Graded(Entry("b", Path("b.py")), results(1))]


def test_results_record_the_target_each_test_checks():
    (first, *_, last) = alike_batch()[0].results["tests"]
    assert first["extra_data"] == {gs.TARGET_KEY: "MultiHeadedAttention"}
    assert "extra_data" not in last


def test_pass_rates_are_grouped_by_question_in_notebook_order():
    questions = get_assignment("attention").questions
    assert [q.target for q in questions] == ["scaled_dot_product_attention", "MultiHeadedAttention"]
    groups = grouped_pass_rates(alike_batch(), questions)
    assert [(title, target, [name for name, *_ in rates]) for title, target, rates in groups] == [
        (questions[0].title, "scaled_dot_product_attention", [ALIKE[1][0]]),
        (questions[1].title, "MultiHeadedAttention", [ALIKE[0][0], ALIKE[2][0]]),
        (OTHER_TESTS, "", [ALIKE[3][0]])]
    assert groups[1][2][0] == (ALIKE[0][0], 1.0, 2, 2)  # rates as pass_rates counts them
    # without the questions, each target is a group of its own, titled by its name
    assert [title for title, _, _ in grouped_pass_rates(alike_batch())] == [
        "MultiHeadedAttention", "scaled_dot_product_attention", OTHER_TESTS]


def test_report_shows_each_question_above_its_tests(tmp_path):
    questions = get_assignment("attention").questions
    page = write_report(tmp_path, alike_batch(), "attention: grading report", questions=questions).read_text()
    table = page[page.index('<table id="tests">'):]
    table = table[:table.index("</table>")]
    order = [questions[0].title, ALIKE[1][0], questions[1].title, ALIKE[0][0], ALIKE[2][0], OTHER_TESTS, ALIKE[3][0]]
    positions = [table.index(html.escape(text)) for text in order]
    assert positions == sorted(positions), order
    assert table.count('<th class="question" colspan="5">') == 3
    assert "<code>MultiHeadedAttention</code>" in table
    # results without targets (written before they were recorded): one plain table, no headers
    plain = write_report(tmp_path / "old", report_batch(), "rnn", questions=get_assignment("rnn").questions).read_text()
    assert 'class="question"' not in plain and "Values [GRUCell]" in plain


# -- the CLI ------------------------------------------------------------------------------------------
def test_demo_grades_the_samples_as_batches_with_reports(tmp_path, monkeypatch, capsys):
    from dlgrade import cli
    from dlgrade.authoring import commands as authoring_commands
    from dlgrade.packaging import commands as packaging_commands

    fake = FakeSessions()
    monkeypatch.setattr(grade_module, "run_graders", fake)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(authoring_commands, "cmd_selftest", lambda args: 0)
    builds = []
    monkeypatch.setattr(packaging_commands, "cmd_build", lambda args: builds.append((args.out, args.assignment)) or 0)
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--dist", str(tmp_path / "dist")]) == 0
    assert builds == [(str(tmp_path / "dist"), None)]  # every assignment built (dlgrade build is tested for real)
    out = capsys.readouterr().out
    for name in ASSIGNMENTS:
        samples = [p.name for p in get_assignment(name).scenarios]
        assert len(samples) == 4, samples
        report = tmp_path / "demo" / name / "report.html"
        assert f"Report: {report}" in out and report.exists()
        rows = read_gradebook(tmp_path / "demo" / name / "gradebook.csv")
        assert sorted(r[0] for r in rows[1:]) == samples
        for sample in samples:
            assert html.escape(sample) in report.read_text()
            assert (tmp_path / "demo" / name / sample / "feedback.html").exists()
    # each assignment's samples in 1 session, 3 workers
    assert len(fake.calls) == len(ASSIGNMENTS) and fake.jobs == [3] * len(ASSIGNMENTS)
    assert "[4/4] " in out


@pytest.mark.parametrize("option, value", [("--jobs", "0"), ("--jobs", "-2"), ("--jobs", "two"),
                                           ("--budget", "0"), ("--budget", "-1"), ("--budget", "soon")])
def test_bad_jobs_or_budget_is_a_usage_error(option, value, capsys):
    from dlgrade import cli

    assert cli.main(["grade", "--assignment", "rnn", "--out", "o", option, value, "x.py"]) == 2
    [line] = capsys.readouterr().err.splitlines()  # one line, no usage block
    assert line.startswith(f"dlgrade: error: argument {option}: ") and line.endswith("(see dlgrade grade --help)")


def test_jobs_reach_the_grader(tmp_path, monkeypatch, capsys):
    from dlgrade import cli

    fake = FakeSessions()
    monkeypatch.setattr(grade_module, "run_graders", fake)
    paths = write_subs(tmp_path / "subs", {f"s{i}": "full" for i in range(4)})
    assert cli.main(["grade", "--assignment", "rnn", "--out", str(tmp_path / "out"), "--jobs", "3",
                     *map(str, paths)]) == 0
    assert fake.jobs == [3]
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("[")] == ["[1/4]", "[2/4]", "[3/4]",
                                                                                       "[4/4]"]
    assert f"Report: {tmp_path / 'out' / 'report.html'}" in out


def test_a_file_given_twice_is_graded_once_with_a_note(tmp_path, monkeypatch, capsys):
    from dlgrade import cli

    fake = FakeSessions()
    monkeypatch.setattr(grade_module, "run_graders", fake)
    a, b = write_subs(tmp_path / "subs", {"a": "full", "b": "full"})
    (tmp_path / "subs" / "link.py").symlink_to(a)
    monkeypatch.chdir(tmp_path)
    given = [str(a), "subs/a.py", "./subs/../subs/a.py", str(b), "subs/link.py", str(b)]
    assert cli.main(["grade", "--assignment", "rnn", "--out", str(tmp_path / "out"), *given]) == 0
    assert fake.calls == [["a", "b"]]
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dlgrade: note:")]
    assert notes == [f"dlgrade: note: {a} given 4 times (also as subs/../subs/a.py, subs/a.py, subs/link.py); "
                     "graded once", f"dlgrade: note: {b} given twice; graded once"]


def test_a_grading_run_that_cannot_start_fails_the_command(tmp_path, monkeypatch, capsys):
    from dlgrade import cli

    def cannot_start(*args):
        raise FileNotFoundError(2, "No such file or directory", "/no/python")

    monkeypatch.setattr(grade_module, "run_graders", cannot_start)
    paths = write_subs(tmp_path / "subs", {"a": "full", "b": "full"})
    out = tmp_path / "out"
    assert cli.main(["grade", "--assignment", "rnn", "--out", str(out), "--sessions", "2", *map(str, paths)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "dlgrade: error: no submission could be graded: the grading run could not start ([Errno 2] No such file "
        f"or directory: '/no/python'); see {out / 'grading.log'}"]
    assert "submission" not in captured.out  # no score table
    # the folder's files say that nothing was graded: none of an earlier run's is left to mislead
    with (out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        assert [(r["name"], float(r["score"])) for r in csv.DictReader(handle)] == [("a", 0.0), ("b", 0.0)]


def test_one_failed_session_among_others_still_exits_0(tmp_path, monkeypatch):
    from dlgrade import cli

    monkeypatch.setattr(grade_module, "run_graders", FakeSessions(parties=2))
    paths = write_subs(tmp_path / "subs", {"a": "crash", "b": "full"})
    assert cli.main(["grade", "--assignment", "rnn", "--out", str(tmp_path / "out"), "--sessions", "2",
                     *map(str, paths)]) == 0


# -- what a submission without the file to grade holds ------------------------------------------------
def test_a_folder_without_the_file_to_grade_lists_its_code_files(tmp_path):
    from dlgrade.supervisor.submission import load_submission

    folder = tmp_path / "kim"
    (folder / "src").mkdir(parents=True)
    for name in ("model.py", "src/attn.ipynb", "notes.txt", ".hidden.py"):
        (folder / name).write_text("x = 1\n")
    problem = load_submission(folder, "attention").problem
    assert problem == "no attention.py or attention.ipynb found in the folder (it holds model.py, src/attn.ipynb)"
    (folder / "model.py").unlink()
    (folder / "src" / "attn.ipynb").unlink()
    assert load_submission(folder, "attention").problem == (
        "no attention.py or attention.ipynb found in the folder (it holds no .py or .ipynb file)")


def test_a_zip_without_the_file_to_grade_lists_the_first_ten_code_files(tmp_path):
    import zipfile

    from dlgrade.supervisor.submission import load_submission

    path = tmp_path / "lee.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(12):
            zf.writestr(f"part{i:02}.py", "x = 1\n")
        zf.writestr("bad\nHint: name.py", "")
    problem = load_submission(path, "rnn").problem
    listed = ", ".join(f"part{i:02}.py" for i in range(9))  # sorted: the odd name first
    assert problem == f"no rnn.py or rnn.ipynb found in the zip (it holds bad?Hint: name.py, {listed} and 3 more)"


@pytest.mark.parametrize("args, lang", [((), "en"), (("--lang", "ko"), "ko")])
def test_lang_reaches_the_grader(tmp_path, monkeypatch, args, lang):
    from dlgrade import cli

    fake = FakeSessions()
    monkeypatch.setattr(grade_module, "run_graders", fake)
    paths = write_subs(tmp_path / "subs", {"s": "full"})
    assert cli.main(["grade", "--assignment", "rnn", "--out", str(tmp_path / "out"), *args, *map(str, paths)]) == 0
    assert fake.langs == [lang]


def test_the_budget_scales_with_the_timeout_and_reaches_the_grading_session():
    from dlgrade.supervisor.policy import POLICY

    assert GradingOptions(timeout=3).budget_s == 3 * POLICY.budget_per_timeout
    assert GradingOptions(timeout=3, budget=7).budget_s == 7
    args = GradingOptions(timeout=2).per_session(1).pytest_args()
    assert args[args.index("--dlgrade-budget") + 1] == repr(2 * POLICY.budget_per_timeout)
    with pytest.raises(ValueError, match="budget"):
        GradingOptions(budget=0)
