"""Gradescope ``results.json`` for one submission, built in the trusted process.

Outputs are bounded here whatever made them (:mod:`dlgrade.judging.student_text`): each test's to
:data:`~dlgrade.judging.student_text.TEST_OUTPUT_CHARS`, all of them together to
:data:`~dlgrade.judging.student_text.RESULTS_OUTPUT_BYTES`; the header's first line (it names the
submitted file) stays one line and any further lines are quoted. The catalogued mistakes a failing
test's answer reproduced are kept by id in the test's ``extra_data`` (Gradescope stores it;
students do not see it), which is what the batch report counts.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from dlgrade.judging.i18n import DEFAULT_LANG, Messages
from dlgrade.judging.replay import HIDDEN, PUBLIC
from dlgrade.judging.student_text import TEST_OUTPUT_CHARS, cap, fit, heading, quote

__all__ = ["HIDDEN", "MISTAKES_KEY", "PUBLIC", "TARGET_KEY", "TestResult", "gradescope_results", "write_results"]

MISTAKES_KEY = "dlgrade_mistakes"  # a test's extra_data: {"assignment": name, "ids": [mistake id, ...],
# "factors": [factor finding, ...]} (see dlgrade.grading.diagnosis)
TARGET_KEY = "dlgrade_target"  # a test's extra_data: the function or class it checks (its question's target)


@dataclass
class TestResult:
    """One graded test of one submission; ``mistakes``: the ids of the catalogued mistakes (of
    ``assignment``'s catalogue) its failing answer reproduces, whose hints its output gives;
    ``factors``: what the failure depends on (the factor diagnosis' findings); ``target``: the
    function or class the test checks (the report groups tests by it, question by question)."""

    name: str
    score: float
    max_score: float
    output: str
    visibility: str
    ran: bool = True  # False for a placeholder when the grading run itself failed
    mistakes: tuple[str, ...] = ()
    assignment: str = ""
    factors: tuple[str, ...] = ()
    target: str = ""

    @property
    def passed(self) -> bool:
        return self.ran and self.score >= self.max_score

    def to_gradescope(self, number: int) -> dict:
        entry = {"name": self.name, "number": str(number), "score": self.score,
                 "max_score": self.max_score, "output": self.output, "visibility": self.visibility,
                 "status": "passed" if self.passed else "failed"}
        extra: dict = {}
        if self.mistakes or self.factors:
            found = {"assignment": self.assignment, "ids": list(self.mistakes)}
            if self.factors:
                found["factors"] = list(self.factors)
            extra[MISTAKES_KEY] = found
        if self.target:
            extra[TARGET_KEY] = self.target
        if extra:
            entry["extra_data"] = extra
        return entry


def gradescope_results(tests: list[TestResult], header: str = "", execution_time: float | None = None,
                       extra_data: dict | None = None, lang: str = DEFAULT_LANG, load_errors: str = "") -> dict:
    """The ``results.json`` dict: a top-level score plus one entry per test; ``extra_data``
    (Gradescope keeps it, students never see it) says how the submission was confined. What
    went wrong while the code loaded (``load_errors``, the student's text) is said once, in the
    top-level output that Gradescope shows above the tests, quoted, before the score line. Outputs are capped (what was
    cut is said in ``lang``)."""
    t = Messages(lang)
    score = round(sum(r.score for r in tests), 6)
    max_score = round(sum(r.max_score for r in tests), 6)
    output = heading(header, t=t) + "\n" if header else ""
    if load_errors:
        output += t("feedback.load_errors") + "\n" + quote(load_errors, t=t) + "\n"
    output += t("results.score", score=f"{score:g}", max_score=f"{max_score:g}")
    output, *outputs = fit([output, *(cap(r.output, TEST_OUTPUT_CHARS, t) for r in tests)], t=t)
    entries = [r.to_gradescope(i) for i, r in enumerate(tests, start=1)]
    for entry, text in zip(entries, outputs):
        entry["output"] = text
    results = {"score": score, "max_score": max_score, "output": output, "visibility": PUBLIC,
               "stdout_visibility": "hidden", "tests": entries}
    if execution_time is not None:
        results["execution_time"] = round(execution_time, 3)
    if extra_data:
        results["extra_data"] = extra_data
    return results


_SURROGATE = re.compile("[\ud800-\udfff]")


def results_text(results: dict) -> str:
    """``results`` as JSON text that is valid UTF-8: a lone surrogate (``os.fsdecode`` of a
    non-UTF-8 byte in a student's message) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", json.dumps(results, indent=2, ensure_ascii=False)) + "\n"


def write_results(path: Path, results: dict) -> None:
    """Write ``results.json`` (creating its folder) atomically: a reader never sees half a file,
    and nothing is left behind when writing fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = results_text(results)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
