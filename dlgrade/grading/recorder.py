"""The ``grader`` fixture's object: what graders call, and how a submission's answer is judged.

A grader test is a fixed sequence of checks. Each :class:`CheckRecorder` method builds one -- a
kind (:mod:`dlgrade.judging.kinds`), a concrete request and the reference's answer -- and adds it
to the test's :class:`~dlgrade.judging.replay.RecordedTest`. A grading session runs the graders
once, against the reference, and then replays the recorded checks against every submission
(:mod:`dlgrade.grading.scoring`): a test passes when every check does and fails with the
feedback of its first failing one. Record mode keeps, with each public check, the answers of the
catalogued mistakes and the factor diagnosis' variants, for the students' local checks.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from dlgrade.exposed import wire
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.grading.probes import Probe
from dlgrade.judging import feedback
from dlgrade.judging.i18n import Messages
from dlgrade.judging.replay import RecordedCheck, RecordedTest


# the kinds of check whose diagnosis variants the students' checks carry (without the inputs
# after the call, which these kinds do not compare; a gradient check's variants carry every
# gradient, too much for the checks file)
LOCAL_VARIANTS = ("shapes", "values")


class CheckRecorder:
    """Records the checks one grader test makes, in order, into ``test``."""

    def __init__(self, reference: ReferenceOracle, test: RecordedTest, with_mistakes: bool = False) -> None:
        self.reference = reference
        self.test = test
        self.with_mistakes = with_mistakes

    # -- what graders call --------------------------------------------------------------------
    def api(self, target: str, method: str | None = "forward") -> None:
        """``target`` exists with the handed-out signature (class with ``method``, or function)."""
        self._record("api", *self.reference.api_check(target, method))

    def shapes(self, probe: Probe) -> None:
        """The output has the reference's structure, shapes and dtypes."""
        self._record("shapes", *self.reference.probe_check(probe))

    def values(self, probe: Probe) -> None:
        """The output matches the reference's values within the dtype's tolerance."""
        self._record("values", *self.reference.probe_check(probe))

    def gradients(self, probe: Probe) -> None:
        """Gradients w.r.t. every floating input and every parameter match the reference's."""
        self._record("gradients", *self.reference.probe_check(probe, backward=True))

    def unchanged(self, probe: Probe) -> None:
        """The call leaves its input tensors as they were."""
        self._record("unchanged", *self.reference.probe_check(probe))

    # -- machinery ----------------------------------------------------------------------------
    def _record(self, kind: str, request: dict, expected: dict) -> None:
        self.reference.verify(kind, request, expected)
        mistakes = variants = None
        if self.with_mistakes:  # the students' checks: they judge without the reference
            mistakes = tuple(self.reference.distinct_mistakes(kind, request, expected))
            variants = tuple((v.finding.id, v.request, {k: a for k, a in v.expected.items() if k != "inputs_after"})
                             for v in self.reference.diagnosis.variants(kind, request)) if kind in LOCAL_VARIANTS else ()
        self.test.checks.append(RecordedCheck(kind, request, expected, mistakes, variants))


def judge(reference: ReferenceOracle, check: RecordedCheck, actual: wire.Answer,
          ask: Callable[[dict], wire.Answer] | None = None) -> feedback.Verdict | None:
    """The verdict on a submission's answer to a check (None when it passes), in the reference's
    language: a ``Hint:`` line for each catalogued mistake it reproduces (the mistakes run only
    when it fails), or for the two whose combination it reproduces when no single one does; then,
    when ``ask`` can re-ask the submission, a ``Hint:`` line for each factor of the call the
    failure depends on (:mod:`dlgrade.grading.diagnosis`)."""

    def mistakes() -> Iterator[tuple[str, str, dict]]:
        for mistake_id, response in reference.distinct_mistakes(check.kind, check.request, check.expected):
            yield mistake_id, reference.hints[mistake_id], response

    verdict = feedback.assess(check.kind, check.request, check.expected, actual, mistakes(), reference.lang)
    if verdict is None:
        return None
    t = Messages(reference.lang)
    lines, ids = [verdict.message], verdict.mistakes
    if not ids and actual.get("ok") and not actual.get("forbidden"):
        for pair, response in reference.distinct_pairs(check.kind, check.request, check.expected):
            if feedback.agrees(check.kind, check.request, response, actual):
                lines += [t("feedback.two_mistakes"), *(t("feedback.hint", hint=reference.hints[m]) for m in pair)]
                ids = pair
                break
    factors: tuple[str, ...] = ()
    if ask is not None:
        findings = reference.diagnosis.diagnose(check.kind, check.request, check.expected, actual, ask)
        hints = list(dict.fromkeys(finding.hint(t) for finding in findings))
        lines += [t("feedback.hint", hint=hint) for hint in hints]
        factors = tuple(finding.id for finding in findings)
    return feedback.Verdict("\n".join(lines), ids, factors)
