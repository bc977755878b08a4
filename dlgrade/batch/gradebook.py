"""The batch's gradebook: ``gradebook.csv`` for a spreadsheet and the score table ``grade`` prints."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dlgrade.batch.entries import Entry
from dlgrade.grading.results import MISTAKES_KEY

if TYPE_CHECKING:
    from rich.table import Table

FIXED_COLUMNS = ["name", "email", "score", "max_score"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Graded:
    """A graded submission: who handed it in and its ``results.json``."""

    entry: Entry
    results: dict

    @property
    def tests(self) -> list[dict]:
        return [t for t in self.results.get("tests", []) if isinstance(t, dict)]

    @property
    def mistakes(self) -> list[tuple[str, tuple[str, ...]]]:
        """Per test whose answer reproduced catalogued mistakes: ``(assignment, mistake ids)``, as
        the grader recorded them in the test's ``extra_data`` (never read from its output)."""
        found = []
        for test in self.tests:
            extra = test.get("extra_data")
            recorded = extra.get(MISTAKES_KEY) if isinstance(extra, dict) else None
            if not isinstance(recorded, dict) or not isinstance(recorded.get("ids"), list):
                continue
            ids = tuple(dict.fromkeys(i for i in recorded["ids"] if isinstance(i, str)))
            if ids:
                found.append((str(recorded.get("assignment", "")), ids))
        return found

    @property
    def factors(self) -> list[tuple[str, ...]]:
        """Per failing test whose failure the factor diagnosis explained: the findings' ids
        (``factor:was->now``, :mod:`dlgrade.grading.diagnosis`), as recorded in its ``extra_data``."""
        found = []
        for test in self.tests:
            extra = test.get("extra_data")
            recorded = extra.get(MISTAKES_KEY) if isinstance(extra, dict) else None
            factors = recorded.get("factors") if isinstance(recorded, dict) else None
            if isinstance(factors, list) and (ids := tuple(dict.fromkeys(f for f in factors if isinstance(f, str)))):
                found.append(ids)
        return found


def points_by_test(graded: Graded) -> dict[str, float]:
    """Test name -> points earned (a repeated name gets `` #2``, `` #3``)."""
    points: dict[str, float] = {}
    for test in graded.tests:
        name, n = str(test.get("name", "")), 1
        while (key := name if n == 1 else f"{name} #{n}") in points:
            n += 1
        points[key] = float(test.get("score", 0))
    return points


def grader_columns(batch: list[Graded]) -> list[str]:
    """Every test name in a stable order: the order of the submission with the most tests, then
    any others (e.g. a failed run's placeholder) in order of appearance."""
    lists = [list(points_by_test(g)) for g in batch]
    columns = list(max(lists, key=len, default=[]))
    for names in lists:
        columns += [n for n in names if n not in columns]
    return columns


def text_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: untrusted text starting like a formula gets a ``'``."""
    return "'" + text if text.startswith(FORMULA_START) else text


def write_gradebook(path: Path, batch: list[Graded]) -> None:
    """One row per submission: name, email, score, max_score, then points earned per test.

    UTF-8 with a byte-order mark, so that Excel reads non-ASCII names; a test a submission has no
    result for is left empty.
    """
    columns = grader_columns(batch)
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIXED_COLUMNS + columns)
        for graded in batch:
            points = points_by_test(graded)
            writer.writerow([text_cell(graded.entry.display), text_cell(graded.entry.email),
                             f"{graded.results.get('score', 0):g}", f"{graded.results.get('max_score', 0):g}",
                             *(f"{points[c]:g}" if c in points else "" for c in columns)])


def score_table(batch: list[Graded]) -> Table:
    """The table ``grade`` prints: name, score, tests passed; and each row's results folder when
    a name is not its folder's (a Gradescope export: two students of the same name differ there)."""
    from dlgrade.batch.tables import add_row, new_table

    folders = any(g.entry.display != g.entry.name for g in batch)
    table = new_table("submission", *(["results folder"] if folders else []), "score", "passed",
                      right=("score", "passed"))
    for graded in batch:
        result, tests = graded.results, graded.tests
        passed = sum(t.get("status") == "passed" for t in tests)
        add_row(table, graded.entry.display, *([graded.entry.name] if folders else []),
                f"{result.get('score', 0):g}/{result.get('max_score', 0):g}", f"{passed}/{len(tests)}")
    return table
