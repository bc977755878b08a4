"""Prove the graders: the reference scores 100%, the stubs 0, every catalogued mistake loses
points and gets its hint (a ``Hint:`` line of the grader's, and its id recorded in the test's
``extra_data``). Everything is graded through the real path (worker + pytest). The table also
says, per assignment, how many mistakes get their own hint and how many a factor hint (what the
failure depends on: :mod:`dlgrade.grading.diagnosis`)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.template import make_stub
from dlgrade.batch.entries import Entry, read_results
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


def format_rows(rows: list[Row]) -> str:
    """A plain-text table of self-test rows."""
    header = f"{'assignment':<11} {'variant':<40} {'score':>11}  {'must':<28} result"
    lines = [header, "-" * len(header)]
    for r in rows:
        score = f"{r.score:g}/{r.max_score:g}"
        status = "ok" if r.ok else f"WRONG {r.note}".rstrip()
        lines.append(f"{r.assignment:<11} {r.variant:<40} {score:>11}  {r.expectation:<28} {status}")
    bad = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - bad} of {len(rows)} rows as expected.")
    lines.append("")
    lines.append(hint_coverage(rows))
    return "\n".join(lines)


def hint_coverage(rows: list[Row]) -> str:
    """Per assignment: how many catalogued mistakes get their own hint, a factor hint, either."""
    header = f"{'assignment':<11} {'mistakes':>8} {'own hint':>9} {'factor hint':>12} {'either':>7}"
    lines = [header, "-" * len(header)]
    for name in dict.fromkeys(r.assignment for r in rows):
        mine = [r for r in rows if r.assignment == name and r.variant.startswith("mistake:")]
        own, factor = sum(r.own_hint for r in mine), sum(r.factor_hint for r in mine)
        either = sum(r.own_hint or r.factor_hint for r in mine)
        lines.append(f"{name:<11} {len(mine):>8} {own:>9} {factor:>12} {either:>7}")
    return "\n".join(lines)
