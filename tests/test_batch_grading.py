"""End to end: ``dlgrade grade`` on a Gradescope export zip, in parallel, with progress and a report.

ONE grading run (module fixture) grades an export zip of six students (the reference twice under
the same name, a catalogued mistake twice, one with an HTML-injecting name, a syntax error, a
folder without code) plus an ordinary zip without metadata, with ``--jobs 2 --sessions 2``. The tests read its
output; the last ones open report.html in headless Chromium.
"""
from __future__ import annotations

import csv
import fcntl
import html
import json
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import termios
import time
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from dlgrade.authoring.registry import get_assignment

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RUN_LIMIT_S = 300
EVIL = '<img src=x onerror="document.body.remove()"> Evil & Co'
GATE_EDIT = ("i, f, g, o = gates.chunk(4, dim=1)", "i, f, o, g = gates.chunk(4, dim=1)")


def dlgrade_command() -> list[str]:
    script = Path(sys.executable).with_name("dlgrade")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dlgrade"]


def gate_hint() -> str:
    (mistake,) = [m for m in get_assignment("rnn").mistakes if m.id == "lstm_gate_order_ifog"]
    return mistake.hint


@dataclass(frozen=True)
class Student:
    folder: str
    files: dict[str, str]
    metadata: str | None  # the YAML block under the folder's key (None: not in the metadata)


def students() -> list[Student]:
    ref = (REPO / "solutions" / "rnn.py").read_text()
    assert ref.count(GATE_EDIT[0]) == 1
    gate = ref.replace(*GATE_EDIT)
    return [
        Student("submission_101", {"rnn.py": ref},
                "  :submitters:\n  - :name: Kim Minji\n    :email: minji@example.edu\n    :sid: '2024001'\n"
                "  :created_at: 2026-10-01 12:00:00.000000000 +09:00\n  :score: 0.0\n"),
        Student("submission_102", {"rnn.py": gate},
                "  :submitters:\n  - :name: Lee Jun\n    :email: jun@example.edu\n"),
        Student("submission_103", {"homework/rnn.py": gate},
                f"  :submitters:\n  - :name: '{EVIL}'\n    :email: evil@example.edu\n"),
        Student("submission_104", {"rnn.py": "def broken(:\n    pass\n"}, None),
        Student("submission_105", {"notes.txt": "I forgot the code\n"},
                "  :submitters:\n  - :email: forgetful@example.edu\n"),
        Student("submission_106", {"src/rnn.py": ref, "src/util.py": "import os\nos._exit(3)\n"},
                "  :submitters:\n  - :name: Kim Minji\n    :email: minji2@example.edu\n"),
    ]


# the expected gradebook rows, in order (exports are sorted by name), then the plain zip
EXPECTED = [  # (name, email, folder, full marks?)
    (EVIL, "evil@example.edu", None, False),
    ("forgetful@example.edu", "forgetful@example.edu", "forgetful@example.edu", False),
    ("Kim Minji", "minji@example.edu", "Kim_Minji", True),
    ("Kim Minji", "minji2@example.edu", "Kim_Minji-2", True),
    ("Lee Jun", "jun@example.edu", "Lee_Jun", False),
    ("submission_104", "", "submission_104", False),
    ("plain", "", "plain", True),
]


def write_export(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        blocks = [f"{s.folder}:\n{s.metadata}" for s in students() if s.metadata is not None]
        zf.writestr("submission_metadata.yml", "".join(blocks))
        for student in students():
            for name, text in student.files.items():
                zf.writestr(f"{student.folder}/{name}", text)
    return path


@dataclass
class Run:
    out: Path
    proc: subprocess.CompletedProcess

    def gradebook(self) -> list[dict[str, str]]:
        with (self.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))

    def header(self) -> list[str]:
        with (self.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle))

    def folders(self) -> list[Path]:
        return sorted(p for p in self.out.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    folder = tmp_path_factory.mktemp("batch")
    export = write_export(folder / "gradescope_export.zip")
    plain = folder / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:  # no submission_metadata.yml: one ordinary submission
        zf.writestr("hw/rnn.py", (REPO / "solutions" / "rnn.py").read_text())
    out = folder / "out"
    proc = subprocess.run([*dlgrade_command(), "grade", "--assignment", "rnn", "--out", str(out),
                           "--jobs", "2", "--sessions", "2",
                           str(export), str(plain)], capture_output=True, text=True, cwd=folder,
                          timeout=RUN_LIMIT_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return Run(out, proc)


def results_of(run: Run, row: dict[str, str]) -> dict:
    return json.loads((run.out / folder_of(run, row) / "results.json").read_text())


def folder_of(run: Run, row: dict[str, str]) -> str:
    """The results folder of a gradebook row (report.html links it)."""
    index = run.gradebook().index(row)
    expected = EXPECTED[index][2]
    if expected is not None:
        return expected
    names = {p.name for p in run.folders()} - {e[2] for e in EXPECTED}
    assert len(names) == 1, names
    return names.pop()


# -- gradebook and results --------------------------------------------------------------------------
def test_export_rows_are_named_after_students(run):
    rows = run.gradebook()
    assert [(r["name"], r["email"]) for r in rows] == [(n, e) for n, e, _, _ in EXPECTED]
    folders = [p.name for p in run.folders()]
    assert len(folders) == len(EXPECTED)
    for name in folders:
        assert "/" not in name and "<" not in name and " " not in name and not name.startswith(".")
    for row, (_, _, _, full) in zip(rows, EXPECTED):
        results = results_of(run, row)
        assert float(row["score"]) == results["score"] and float(row["max_score"]) == results["max_score"] == 24
        assert (results["score"] == 24) == full, (row, results["score"])


def test_bad_submissions_in_an_export_score_zero_with_a_message(run):
    rows = {r["name"]: r for r in run.gradebook()}
    forgot = results_of(run, rows["forgetful@example.edu"])
    assert forgot["score"] == 0
    assert all("no rnn.py or rnn.ipynb found in the folder" in t["output"] for t in forgot["tests"])
    broken = results_of(run, rows["submission_104"])
    assert broken["score"] == 0 and "SyntaxError" in broken["output"]  # said once, above the tests
    assert all("error while it was loaded" in t["output"] for t in broken["tests"])
    mistake = results_of(run, rows["Lee Jun"])
    assert 0 < mistake["score"] < 24
    assert any(f"Hint: {gate_hint()}" in t["output"].splitlines() for t in mistake["tests"])


def test_gradebook_has_points_per_test(run):
    header = run.header()
    assert header[:4] == ["name", "email", "score", "max_score"]
    for row in run.gradebook():
        tests = results_of(run, row)["tests"]
        assert header[4:] == [t["name"] for t in tests]  # every submission ran the same graders
        assert [float(row[t["name"]]) for t in tests] == [t["score"] for t in tests]
        assert sum(float(row[c]) for c in header[4:]) == pytest.approx(float(row["score"]))


def test_grading_ran_two_sessions(run):
    log = (run.out / "grading.log").read_text()
    assert "=== session 1.1 ===" in log and "=== session 2.1 ===" in log and "=== session 3" not in log


def test_score_table_tells_students_of_the_same_name_apart(run):
    lines = run.proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["submission", "results", "folder"])
    kims = [line.split() for line in lines[header + 2:] if line.startswith("Kim Minji ")]
    assert [k[2] for k in kims] == ["Kim_Minji", "Kim_Minji-2"] and kims[0][3] == kims[1][3] == "24/24", kims


def test_progress_lines_when_not_a_terminal(run):
    lines = [line for line in run.proc.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == len(EXPECTED), run.proc.stdout
    rows = run.gradebook()
    seen = []
    for number, line in enumerate(lines, start=1):
        prefix = f"[{number}/{len(EXPECTED)}] "
        assert line.startswith(prefix), line
        name, _, rest = line[len(prefix):].rpartition(": ")
        score, _, elapsed = rest.partition(" ")
        seen.append((name, score))
        assert elapsed.startswith("(") and elapsed.endswith(" s)"), line
    assert sorted(seen) == sorted((r["name"], f"{r['score']}/{r['max_score']}") for r in rows)
    assert "\r" not in run.proc.stdout
    assert f"Report: {run.out / 'report.html'}" in run.proc.stdout


# -- the report, read as HTML -----------------------------------------------------------------------
class Tables(HTMLParser):
    """Cell texts of every ``<table id=...>``, and the ``<img>`` and ``<script>`` elements found."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None
        self.images: list[dict] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.current = attrs.get("id", "")
            self.tables[self.current] = []
        elif tag == "tr" and self.current is not None:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current is not None:
            self.cell = []
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.current is not None:
            self.tables[self.current][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def parse(page: str) -> Tables:
    tables = Tables()
    tables.feed(page)
    return tables


def expected_hint_rows(run: Run) -> list[tuple[str, str, str]]:
    """(submissions, tests, hint) for the gate-order hint, counted from the results files."""
    subs = tests = 0
    for row in run.gradebook():
        lines = [t["output"].splitlines() for t in results_of(run, row)["tests"]]
        hits = sum(f"Hint: {gate_hint()}" in out for out in lines)
        subs, tests = subs + (hits > 0), tests + hits
    assert subs == 2 and tests > 2
    return [(str(subs), str(tests), gate_hint())]


def check_report(page: str, run: Run) -> None:
    """``page`` (report.html as written, or Chromium's DOM of it) shows what gradebook.csv says."""
    tables = parse(page)
    rows = run.gradebook()
    scores = [float(r["score"]) for r in rows]
    students = [r[:4] for r in tables.tables["students"][1:]]
    assert students == [[r["name"], r["email"], r["score"], r["max_score"]] for r in rows]
    summary = dict(r for r in tables.tables["summary"])
    assert summary["Submissions"] == str(len(rows))
    assert summary["Mean score"] == f"{round(statistics.mean(scores), 2):g}"
    assert summary["Median score"] == f"{statistics.median(scores):g}"
    assert summary["Highest score"] == f"{max(scores):g}" and summary["Out of"] == "24"
    hints = [tuple(r) for r in tables.tables["hints"][1:]]
    assert hints[0] == expected_hint_rows(run)[0], hints
    rows_and_headers = tables.tables["tests"][1:]
    rates = {r[0]: r[2] for r in rows_and_headers if len(r) > 1}
    for column in run.header()[4:]:
        passed = sum(float(r[column]) > 0 for r in rows)
        assert rates[column] == f"{passed}/{len(rows)}", column
    # the tests grouped by question, in the notebook's order, each under its question's title
    questions = get_assignment("rnn").questions
    headers = [r[0] for r in rows_and_headers if len(r) == 1]
    assert headers == [f"{q.title} ({q.target})" for q in questions], headers
    under = {}
    for r in rows_and_headers:
        if len(r) == 1:
            current = r[0]
        else:
            under[r[0]] = current
    cells = [q for q in questions if q.target.endswith("Cell")]  # the cells' tests say which cell they check
    for question in cells:
        params = [name for name in run.header()[4:] if name.endswith(f"[{question.target}]")]
        assert params and all(under[n] == f"{question.title} ({question.target})" for n in params), question
    assert len(cells) == 2 and set(under) == set(run.header()[4:])
    assert len(tables.images) == 1 and tables.images[0]["src"].startswith("data:image/png;base64,")
    assert tables.scripts == 0


def test_report_shows_the_gradebook(run):
    page = (run.out / "report.html").read_text()
    check_report(page, run)
    assert html.escape(EVIL) in page and EVIL not in page
    assert (run.out / "scores.png").read_bytes().startswith(b"\x89PNG")


def test_report_links_every_feedback_page(run):
    page = (run.out / "report.html").read_text()
    for row in run.gradebook():
        folder = folder_of(run, row)
        feedback = run.out / folder / "feedback.html"
        assert feedback.exists()
        assert f'href="{quote(folder)}/feedback.html"' in page
        text = feedback.read_text()
        for test in results_of(run, row)["tests"]:
            assert html.escape(test["name"]) in text and html.escape(test["output"]) in text


# -- the report in a real browser ----------------------------------------------------------------------
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str:
    """Chromium's path; skips only outside CI (``CI`` set: a missing browser fails the test)."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail(f"no Chromium found ({', '.join(BROWSERS)}); .ci/run installs Debian's chromium")
    pytest.skip("no Chromium found (install Debian's chromium to run this test)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_report_renders_in_chromium(run, tmp_path):
    proc = chromium(tmp_path, "--dump-dom", (run.out / "report.html").as_uri())
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-3000:]
    check_report(proc.stdout, run)  # the DOM Chromium built: same numbers, no injected elements


def test_report_screenshot_is_not_blank(run, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", (run.out / "report.html").as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-3000:]
    assert shot.stat().st_size > 20_000
    pixels = imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    ink = (pixels.min(axis=2) < 0.8).mean()  # text, table borders, histogram bars
    assert 0.01 < ink < 0.9, ink
    blue = ((pixels[..., 2] > 0.55) & (pixels[..., 0] < 0.45)).sum()  # the histogram's and pass-rate bars
    assert blue > 2000, blue


# -- progress on a terminal ---------------------------------------------------------------------------
def run_in_pty(command: list[str], cwd: Path, limit: float = RUN_LIMIT_S) -> tuple[int, str]:
    """Run ``command`` with stdout and stderr on a pseudo-terminal; its exit status and output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(command, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, cwd=cwd)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal_is_a_bar(tmp_path):
    subs = []
    for name in ("a", "b"):  # no code: graded without a worker, so the run is short
        (tmp_path / f"{name}.txt").write_text("no code\n")
        subs.append(str(tmp_path / f"{name}.txt"))
    status, output = run_in_pty([*dlgrade_command(), "grade", "--assignment", "rnn", "--out", str(tmp_path / "out"),
                                 *subs], cwd=tmp_path)
    assert status == 0, output
    assert "\r" in output and "grading 2/2" in output and "elapsed" in output, output
    assert "[1/2]" not in output and "Traceback" not in output
    assert (tmp_path / "out" / "report.html").exists()
