"""Grade a submission by replaying the checks its graders recorded against the reference.

The graders run once per session (see :mod:`dlgrade.grading.plugin`); what each test checked is a
:class:`CompiledTest`. Grading a submission asks its worker for the answers (ahead of time, see
:mod:`dlgrade.grading.prefetch`) and judges them in this trusted process, test by test: a test
scores its points when every check passes and 0 with the feedback of its first failing check.
So a submission costs its worker's calls and the comparisons, not a run of pytest.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dlgrade.grading.oracle import ReferenceSet
from dlgrade.grading.recorder import judge
from dlgrade.grading.results import TestResult


@dataclass
class CompiledTest:
    """One grader test: its name, points and visibility, and its checks in order. ``error`` is
    set when the grader itself failed (every submission then gets that message and 0 points)."""

    nodeid: str
    name: str
    points: float
    visibility: str
    checks: list[dict] = field(default_factory=list)
    error: str | None = None


def requests_in_order(tests: list[CompiledTest]) -> Iterator[dict]:
    """Every check's request, in the order the tests make them."""
    for test in tests:
        for check in test.checks:
            yield check["request"]


def grade(tests: list[CompiledTest], reference: ReferenceSet, ask: Callable[[dict], dict],
          context: Callable[[], str] = lambda: "") -> list[TestResult]:
    """Each test's result for the submission whose worker ``ask`` queries; ``context`` tells what
    went wrong while its code loaded (added to every failing test's feedback)."""
    results = []
    for test in tests:
        if test.error is not None:
            results.append(TestResult(test.name, 0.0, test.points, test.error, test.visibility))
            continue
        message = None
        for check in test.checks:
            message = judge(reference, check["kind"], check["request"], check["expected"], ask(check["request"]))
            if message is not None:
                extra = context()
                message += f"\n{extra}" if extra else ""
                break
        results.append(TestResult(test.name, 0.0 if message else test.points, test.points, message or "passed",
                                  test.visibility))
    return results
