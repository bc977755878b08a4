"""Score a submission: replay every recorded test against its worker's answers.

The graders run once per session (see :mod:`dlgrade.grading.plugin`); what each test checked is
a :class:`~dlgrade.judging.replay.RecordedTest`. Scoring a submission asks its worker for the
answers (ahead of time, see :mod:`dlgrade.grading.prefetch`) and judges them in this trusted
process, test by test, with the loop the students' checks use
(:func:`~dlgrade.judging.replay.first_failure`): a test scores its points when every check
passes and 0 with the feedback of its first failing check, and the ids of the catalogued
mistakes that check's answer reproduces. So a submission costs its worker's calls and the
comparisons, not a run of pytest. What went wrong while the code loaded (its text is the
student's) is said once, above the tests (:func:`~dlgrade.grading.results.gradescope_results`);
every failing test's feedback points there.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dlgrade.exposed import wire
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.grading.recorder import judge
from dlgrade.grading.results import TestResult
from dlgrade.judging.feedback import Verdict
from dlgrade.judging.i18n import Messages
from dlgrade.judging.replay import RecordedCheck, RecordedTest, first_failure


def checked_target(test: RecordedTest) -> str:
    """The function or class ``test`` checks: the target its checks' requests name most often
    ('' when none names one)."""
    targets = Counter(str(c.request["target"]) for c in test.checks if c.request.get("target"))
    return targets.most_common(1)[0][0] if targets else ""


def score_submission(tests: list[RecordedTest], reference: ReferenceOracle, ask: Callable[[dict], wire.Answer],
                     context: Callable[[], str] = lambda: "",
                     diagnose: Callable[[dict], wire.Answer] | None = None) -> list[TestResult]:
    """Each test's result for the submission whose worker ``ask`` queries; ``context`` tells what
    went wrong while its code loaded (a failing test's feedback then points to where it is said);
    ``diagnose`` asks the same worker the variants of a failing check (the factor diagnosis, see
    :mod:`dlgrade.grading.diagnosis`; none without it)."""
    t = Messages(reference.lang)
    name = reference.assignment.name

    def judged(check: RecordedCheck, actual: wire.Answer) -> Verdict | None:
        return judge(reference, check, actual, diagnose)

    results = []
    for test in tests:
        target = checked_target(test)
        if test.error is not None:
            results.append(TestResult(test.name, 0.0, test.points, test.error, test.visibility, target=target))
            continue
        verdict = first_failure(test.checks, ask, judged)
        if verdict is None:
            results.append(TestResult(test.name, test.points, test.points, "passed", test.visibility,
                                      assignment=name, target=target))
            continue
        message = verdict.message
        if context():  # said once, above the tests (the results' top-level output)
            message += "\n" + t("feedback.see_load_errors")
        results.append(TestResult(test.name, 0.0, test.points, message, test.visibility,
                                  mistakes=verdict.mistakes, factors=verdict.factors, assignment=name,
                                  target=target))
    return results
