"""The batch report: ``report.html`` (one self-contained page), ``scores.png`` and, per submission,
``<name>/feedback.html``. Names and outputs come from students: everything is HTML-escaped.
A feedback page is for its student: its own words come from the message catalogue of the
language they read (``--lang``); the report is the instructor's, in English.

The frequent hints are counted by catalogue id, as the grader recorded them in each test's
``extra_data`` (:attr:`~dlgrade.batch.gradebook.Graded.mistakes`), and shown in the catalogue's
words (English, like the rest of the report); outputs are never scanned for ``Hint:`` lines,
which a submission could write."""
from __future__ import annotations

import base64
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from collections.abc import Sequence
from functools import cache
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from dlgrade.batch.gradebook import Graded, grader_columns
from dlgrade.grading.results import TARGET_KEY
from dlgrade.judging.i18n import DEFAULT_LANG, Messages

if TYPE_CHECKING:
    from dlgrade.authoring.registry import Question

TOP_HINTS = 15
OTHER_TESTS = "Other tests"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #1b1f24; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d7de; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th.question { background: #e6ecf2; padding-top: .5em; }
.rate { width: 12em; } .bar { background: #4e79a7; height: .8em; }
.failed { color: #b42318; } .passed { color: #1a7f37; }
pre { background: #f6f8fa; padding: .6em; white-space: pre-wrap; overflow-wrap: anywhere; margin: .3em 0 1em; }
img { max-width: 100%; }
"""


@dataclass(frozen=True)
class Summary:
    """Scores of the batch at a glance."""

    count: int
    mean: float
    median: float
    highest: float
    lowest: float
    max_score: float


def number(value: float) -> str:
    """A score as the report shows it: at most two decimals, no trailing zeros."""
    return f"{round(value, 2):g}"


def summarize(batch: list[Graded]) -> Summary:
    scores = [float(g.results.get("score", 0)) for g in batch] or [0.0]
    max_score = max([float(g.results.get("max_score", 0)) for g in batch] or [0.0])
    return Summary(len(batch), statistics.mean(scores), statistics.median(scores), max(scores), min(scores),
                   max_score)


def pass_rates(batch: list[Graded]) -> list[tuple[str, float, int, int]]:
    """Per test, in gradebook order: (name, points, submissions that passed it, submissions graded on it)."""
    rates = []
    for column in grader_columns(batch):
        tests = [t for g in batch for t in g.tests if t.get("name") == column]
        if tests:
            passed = sum(t.get("status") == "passed" for t in tests)
            rates.append((column, float(tests[0].get("max_score", 0)), passed, len(tests)))
    return rates


def test_targets(batch: list[Graded]) -> dict[str, str]:
    """Test name -> the function or class it checks, as the graders recorded it in the test's
    ``extra_data`` (a test that recorded none is left out)."""
    found: dict[str, str] = {}
    for graded in batch:
        for test in graded.tests:
            extra = test.get("extra_data")
            target = extra.get(TARGET_KEY) if isinstance(extra, dict) else None
            if isinstance(target, str) and target:
                found.setdefault(str(test.get("name", "")), target)
    return found


def grouped_pass_rates(batch: list[Graded], questions: Sequence[Question] = ()
                       ) -> list[tuple[str, str, list[tuple[str, float, int, int]]]]:
    """:func:`pass_rates` grouped by what each test checks, in the notebook's order (the
    ``questions``): ``(title, target, rates)``. A target no question names is titled by its name,
    after the questions; tests that recorded no target come last, as "Other tests" (target '')."""
    targets = test_targets(batch)
    groups: dict[str, list[tuple[str, float, int, int]]] = {q.target: [] for q in questions}
    for rate in pass_rates(batch):
        groups.setdefault(targets.get(rate[0], ""), []).append(rate)
    titles = {q.target: q.title for q in questions}
    order = [t for t in groups if t] + ([""] if "" in groups else [])
    return [(titles.get(t, t) or OTHER_TESTS, t, groups[t]) for t in order if groups[t]]


def hints_of(graded: Graded) -> list[tuple[str, str]]:
    """``(assignment, mistake id)`` of the catalogued mistakes each test reproduced (each once per test)."""
    return [(assignment, mistake_id) for assignment, ids in graded.mistakes for mistake_id in ids]


@cache
def catalogue_hints(assignment: str) -> dict[str, str]:
    """Mistake id -> hint of ``assignment``'s catalogue (empty when there is no such assignment)."""
    from dlgrade.authoring.registry import get_assignment

    try:
        return {m.id: m.hint for m in get_assignment(assignment).mistakes}
    except Exception:  # an assignment this installation does not have: its ids are shown as they are
        return {}


def hint_counts(batch: list[Graded]) -> list[tuple[str, int, int]]:
    """(hint, submissions that got it, tests it appeared in), most frequent first; a hint is a
    catalogued mistake's, counted by id and worded by its catalogue (an unknown id as itself)."""
    tests: Counter[tuple[str, str]] = Counter()
    submissions: Counter[tuple[str, str]] = Counter()
    for graded in batch:
        found = hints_of(graded)
        tests.update(found)
        submissions.update(set(found))
    rows = [(catalogue_hints(a).get(m, m), submissions[(a, m)], tests[(a, m)]) for a, m in tests]
    return sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))


def factor_counts(batch: list[Graded]) -> list[tuple[str, int, int]]:
    """(what failures depend on, submissions, tests), most frequent first: the factor diagnosis'
    findings, counted by id and worded as students read them (in English); an id that is not a
    finding is shown as it is."""
    from dlgrade.judging.diagnosis import Finding
    from dlgrade.judging.i18n import Messages

    tests: Counter[str] = Counter()
    submissions: Counter[str] = Counter()
    for graded in batch:
        found = [finding for ids in graded.factors for finding in ids]
        tests.update(found)
        submissions.update(set(found))
    english = Messages()

    def worded(finding_id: str) -> str:
        try:
            return Finding.from_id(finding_id).hint(english)
        except (ValueError, KeyError, IndexError):
            return finding_id

    rows = [(worded(f), submissions[f], tests[f]) for f in tests]
    return sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))


def draw_histogram(batch: list[Graded], path: Path) -> bytes:
    """Histogram of the scores as a PNG (matplotlib's Agg backend, no pyplot state); returns its bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    summary = summarize(batch)
    scores = [float(g.results.get("score", 0)) for g in batch]
    top = max(summary.max_score, summary.highest, 1.0)
    step = 1.0 if top <= 40 else top / 20
    edges = [i * step for i in range(math.ceil(top / step) + 2)]
    figure = Figure(figsize=(7, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.hist(scores, bins=edges, color="#4e79a7", edgecolor="white", align="left")
    axes.set_xlabel(f"score (out of {number(summary.max_score)})")
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(-step, edges[-1])
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path.read_bytes()


def _page(title: str, body: str, lang: str = DEFAULT_LANG) -> str:
    """A whole HTML page in ``lang`` (one of ours: it goes into the ``lang`` attribute as it is)."""
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def feedback_page(graded: Graded, title: str, lang: str = DEFAULT_LANG) -> str:
    """One submission's results: each test's name, score and output; ``title`` is the
    assignment's, the page's own words are in ``lang`` (the language students read)."""
    t = Messages(lang)
    entry, results = graded.entry, graded.results
    who = entry.display + (f" <{entry.email}>" if entry.email else "")
    parts = [f"<h1>{escape(t('page.feedback_title', title=title, name=who))}</h1>",
             f'<p>{escape(t("page.score"))}: <b id="score">{number(results.get("score", 0))}</b> / '
             f'{number(results.get("max_score", 0))} · '
             f'<a href="../report.html">{escape(t("page.back_to_report"))}</a></p>',
             f"<pre>{escape(str(results.get('output', '')))}</pre>"]
    for test in graded.tests:
        status = "passed" if test.get("status") == "passed" else "failed"
        parts.append(f'<h2 class="{status}">{escape(str(test.get("name", "")))}: '
                     f'{number(test.get("score", 0))} / {number(test.get("max_score", 0))}</h2>'
                     f"<pre>{escape(str(test.get('output', '')))}</pre>")
    return _page(t("page.feedback_title", title=title, name=entry.display), "\n".join(parts), lang)


def _rate_rows(rates: list[tuple[str, float, int, int]]) -> str:
    return "".join(
        f'<tr><td>{escape(name)}</td><td class="num">{number(points)}</td><td class="num">{passed}/{total}</td>'
        f'<td class="num">{round(100 * passed / total)}%</td><td class="rate">'
        f'<div class="bar" style="width: {100 * passed / total:.1f}%"></div></td></tr>'
        for name, points, passed, total in rates)


def _test_groups(batch: list[Graded], questions: Sequence[Question]) -> str:
    """The pass-rate table's body: a group per question (its title, then its tests' rows)."""
    groups = grouped_pass_rates(batch, questions)
    if len(groups) == 1 and not groups[0][1]:  # nothing says what the tests check: no header
        return f"<tbody>{_rate_rows(groups[0][2])}</tbody>"
    parts = []
    for title, target, rates in groups:
        code = f" (<code>{escape(target)}</code>)" if target and target != title else ""
        parts.append(f'<tbody class="question"><tr><th class="question" colspan="5">{escape(title)}{code}</th></tr>'
                     f"{_rate_rows(rates)}</tbody>")
    return "\n".join(parts)


def report_page(batch: list[Graded], title: str, png: bytes, questions: Sequence[Question] = ()) -> str:
    """The class report: summary, histogram, pass rates (grouped by the ``questions``, in their
    order), frequent hints, what failures depend on, students."""
    s = summarize(batch)
    summary = "".join(f'<tr><th>{label}</th><td class="num" id="{key}">{value}</td></tr>' for key, label, value in (
        ("submissions", "Submissions", str(s.count)), ("mean", "Mean score", number(s.mean)),
        ("median", "Median score", number(s.median)), ("highest", "Highest score", number(s.highest)),
        ("lowest", "Lowest score", number(s.lowest)), ("max-score", "Out of", number(s.max_score))))
    rates = _test_groups(batch, questions)
    hints = hint_counts(batch)[:TOP_HINTS]
    hint_rows = "".join(f'<tr><td class="num">{subs}</td><td class="num">{tests}</td><td>{escape(hint)}</td></tr>'
                        for hint, subs, tests in hints)
    factors = factor_counts(batch)[:TOP_HINTS]
    factor_rows = "".join(f'<tr><td class="num">{subs}</td><td class="num">{tests}</td><td>{escape(what)}</td></tr>'
                          for what, subs, tests in factors)
    students = "".join(
        f'<tr><td>{escape(g.entry.display)}</td><td>{escape(g.entry.email)}</td>'
        f'<td class="num">{number(g.results.get("score", 0))}</td>'
        f'<td class="num">{number(g.results.get("max_score", 0))}</td>'
        f'<td class="num">{sum(t.get("status") == "passed" for t in g.tests)}/{len(g.tests)}</td>'
        f'<td><a href="{escape(quote(g.entry.name))}/feedback.html">feedback</a> · '
        f'<a href="{escape(quote(g.entry.name))}/results.json">results.json</a></td></tr>'
        for g in batch)
    image = base64.b64encode(png).decode("ascii")
    body = f"""<h1>{escape(title)}</h1>
<h2>Summary</h2>
<table id="summary">{summary}</table>
<h2>Scores</h2>
<img id="histogram" alt="Histogram of the scores (scores.png)" src="data:image/png;base64,{image}">
<h2>Tests</h2>
<table id="tests"><thead><tr><th>Test</th><th class="num">Points</th><th class="num">Passed</th>
<th class="num">Rate</th><th></th></tr></thead>
{rates}</table>
<h2>Most frequent hints</h2>
{'<p>No hints were given.</p>' if not hints else ''}<table id="hints"><tr><th class="num">Submissions</th>
<th class="num">Tests</th><th>Hint</th></tr>{hint_rows}</table>
<h2>What failures depend on</h2>
{'<p>No failure was narrowed down to one input form.</p>' if not factors else ''}<table id="factors"><tr>
<th class="num">Submissions</th><th class="num">Tests</th><th>Found by re-asking with one input form changed</th></tr>
{factor_rows}</table>
<h2>Students</h2>
<table id="students"><tr><th>Name</th><th>Email</th><th class="num">Score</th><th class="num">Out of</th>
<th class="num">Tests passed</th><th>Feedback</th></tr>{students}</table>"""
    return _page(title, body)


def write_report(out_dir: Path, batch: list[Graded], title: str, lang: str = DEFAULT_LANG,
                 assignment_title: str | None = None, questions: Sequence[Question] = ()) -> Path:
    """Write ``scores.png``, ``report.html`` (``title``, in English) and every
    ``<name>/feedback.html`` (students read it: ``assignment_title``, default ``title``, and the
    page's words in ``lang``); the ``questions`` (the assignment's, in notebook order) group the
    report's pass rates. Returns report.html's path."""
    for graded in batch:
        folder = out_dir / graded.entry.name
        folder.mkdir(parents=True, exist_ok=True)
        page = feedback_page(graded, title if assignment_title is None else assignment_title, lang)
        (folder / "feedback.html").write_text(page, encoding="utf-8")
    png = draw_histogram(batch, out_dir / "scores.png")
    path = out_dir / "report.html"
    path.write_text(report_page(batch, title, png, questions), encoding="utf-8")
    return path
