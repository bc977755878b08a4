"""Score a submission: replay every recorded test against its worker's answers.

The graders run once per session (see :mod:`dlgrade.grading.plugin`); what each test checked is
a :class:`~dlgrade.judging.replay.RecordedTest`. Scoring a submission asks its worker for the
answers (ahead of time, see :mod:`dlgrade.grading.prefetch`) and judges them in this trusted
process, test by test, with the loop the students' checks use
(:func:`~dlgrade.judging.replay.first_failure`): a test scores its points when every check
passes and 0 with the feedback of its first failing check. So a submission costs its worker's
calls and the comparisons, not a run of pytest.
"""
from __future__ import annotations

from collections.abc import Callable

from dlgrade.exposed import wire
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.grading.recorder import judge
from dlgrade.grading.results import TestResult
from dlgrade.judging.replay import RecordedCheck, RecordedTest, first_failure


def score_submission(tests: list[RecordedTest], reference: ReferenceOracle, ask: Callable[[dict], wire.Answer],
                     context: Callable[[], str] = lambda: "") -> list[TestResult]:
    """Each test's result for the submission whose worker ``ask`` queries; ``context`` tells what
    went wrong while its code loaded (added to every failing test's feedback)."""

    def judged(check: RecordedCheck, actual: wire.Answer) -> str | None:
        return judge(reference, check, actual)

    results = []
    for test in tests:
        if test.error is not None:
            results.append(TestResult(test.name, 0.0, test.points, test.error, test.visibility))
            continue
        message = first_failure(test.checks, ask, judged)
        if message is not None and (extra := context()):
            message += f"\n{extra}"
        results.append(TestResult(test.name, 0.0 if message else test.points, test.points, message or "passed",
                                  test.visibility))
    return results
