"""Gradescope ``results.json`` for one submission, built in the trusted process."""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from dlgrade.judging.replay import HIDDEN, PUBLIC

__all__ = ["HIDDEN", "PUBLIC", "TestResult", "gradescope_results", "write_results"]


@dataclass
class TestResult:
    """One graded test of one submission."""

    name: str
    score: float
    max_score: float
    output: str
    visibility: str
    ran: bool = True  # False for a placeholder when the grading run itself failed

    @property
    def passed(self) -> bool:
        return self.ran and self.score >= self.max_score

    def to_gradescope(self, number: int) -> dict:
        return {"name": self.name, "number": str(number), "score": self.score,
                "max_score": self.max_score, "output": self.output, "visibility": self.visibility,
                "status": "passed" if self.passed else "failed"}


def gradescope_results(tests: list[TestResult], header: str = "", execution_time: float | None = None,
                       extra_data: dict | None = None) -> dict:
    """The ``results.json`` dict: a top-level score plus one entry per test; ``extra_data``
    (Gradescope keeps it, students never see it) says how the submission was confined."""
    score = round(sum(t.score for t in tests), 6)
    max_score = round(sum(t.max_score for t in tests), 6)
    output = (header + "\n" if header else "") + f"Score: {score:g} / {max_score:g}"
    results = {"score": score, "max_score": max_score, "output": output, "visibility": PUBLIC,
               "stdout_visibility": "hidden",
               "tests": [t.to_gradescope(i) for i, t in enumerate(tests, start=1)]}
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
