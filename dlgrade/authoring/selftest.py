"""Prove the graders: the reference scores 100%, the stubs 0, every catalogued mistake loses
points and gets its hint (a ``Hint:`` line of the grader's, and its id recorded in the test's
``extra_data``). Everything is graded through the real path (worker + pytest). The table also
says, per assignment, how many mistakes get their own hint and how many a factor hint (what the
failure depends on: :mod:`dlgrade.grading.diagnosis`)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.template import make_stub
from dlgrade.batch.entries import Entry, read_results
from dlgrade.batch.tables import add_row, new_table
from dlgrade.grading.child import run_graders
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.grading.results import MISTAKES_KEY


@dataclass
class Row:
    """One graded variant and whether it scored as it must."""

    assignment: str
    variant: str
    score: float
    max_score: float
    expectation: str
    ok: bool
    note: str = ""
    own_hint: bool = False  # a mistake: its own hint was shown
    factor_hint: bool = False  # a mistake: a factor hint was shown (what its failures depend on)


def selftest(assignment: Assignment) -> list[Row]:
    """Grade the reference, the stub and every mistake of ``assignment`` in one batch."""
    reference = ReferenceOracle(assignment)
    solution = assignment.solution_source
    variants = {"reference": solution, "stub": make_stub(solution)}
    mistakes = {f"mistake:{mistake.id}": mistake for mistake in assignment.mistakes}
    for variant, mistake in mistakes.items():
        variants[variant] = reference.mistake_source(mistake)
    with tempfile.TemporaryDirectory(prefix="dlgrade-selftest-") as tmp:
        entries = []
        for variant, source in variants.items():
            folder = Path(tmp) / "submissions" / variant.replace(":", "_")
            folder.mkdir(parents=True)
            (folder / f"{assignment.module_name}.py").write_text(source)
            entries.append(Entry(variant.replace(":", "_"), folder))
        proc = run_graders(assignment, entries, Path(tmp) / "results")
        results = read_results(Path(tmp) / "results", entries)
    rows = []
    for variant, entry in zip(variants, entries):
        result = results[entry.name]
        if result is None:
            rows.append(Row(assignment.name, variant, 0, 0, "results written", False,
                            f"no results.json; pytest said: {proc.stdout[-500:]}{proc.stderr[-500:]}"))
            continue
        score, max_score = result["score"], result["max_score"]
        outputs = "\n".join(t["output"] for t in result["tests"])
        lines = set(outputs.splitlines())
        found = [(t.get("extra_data") or {}).get(MISTAKES_KEY) or {} for t in result["tests"]]
        recorded = {i for f in found for i in f.get("ids", [])}
        factors = {i for f in found for i in f.get("factors", [])}
        grader_errors = "grader error" in outputs
        if variant == "reference":
            ok, expectation = score == max_score and not grader_errors, "full marks"
        elif variant == "stub":
            ok, expectation = score == 0 and not grader_errors, "0"
        else:
            mistake = mistakes[variant]
            hinted = f"Hint: {mistake.hint}" in lines and mistake.id in recorded
            ok = score < max_score and hinted and not grader_errors
            expectation = "loses points, gets its hint"
        note = "a grader raised an unexpected error" if grader_errors else ""
        if variant in mistakes and f"Hint: {mistakes[variant].hint}" not in lines:
            note = "its hint was not shown"
        elif variant in mistakes and mistakes[variant].id not in recorded:
            note = "its id was not recorded"
        own = variant in mistakes and f"Hint: {mistakes[variant].hint}" in lines and mistakes[variant].id in recorded
        rows.append(Row(assignment.name, variant, score, max_score, expectation, ok, note, own, bool(factors)))
    return rows


def report(rows: list[Row]) -> list[Table | str]:
    """What ``selftest`` prints: a table of the rows, how many are as expected, the hint coverage."""
    bad = sum(not r.ok for r in rows)
    return [rows_table(rows), f"{len(rows) - bad} of {len(rows)} rows as expected.", "", hint_coverage(rows)]


def rows_table(rows: list[Row]) -> Table:
    """The self-test's rows: assignment, variant, score, what it must do, whether it did."""
    table = new_table("assignment", "variant", "score", "must", "result", right=("score",))
    for r in rows:
        add_row(table, r.assignment, r.variant, f"{r.score:g}/{r.max_score:g}", r.expectation,
                "ok" if r.ok else f"WRONG {r.note}".rstrip())
    return table


def hint_coverage(rows: list[Row]) -> Table:
    """Per assignment: how many catalogued mistakes get their own hint, a factor hint, either."""
    counts = ("mistakes", "own hint", "factor hint", "either")
    table = new_table("assignment", *counts, right=counts)
    for name in dict.fromkeys(r.assignment for r in rows):
        mine = [r for r in rows if r.assignment == name and r.variant.startswith("mistake:")]
        own, factor = sum(r.own_hint for r in mine), sum(r.factor_hint for r in mine)
        either = sum(r.own_hint or r.factor_hint for r in mine)
        add_row(table, name, len(mine), own, factor, either)
    return table
