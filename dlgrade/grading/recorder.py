"""The ``grader`` fixture's object: what graders call, and how a submission's answer is judged.

A grader test is a fixed sequence of checks. Each :class:`Grader` method builds one -- a kind, a
concrete request and the reference's answer -- and records it. A grading session runs the graders
once, against the reference, and then replays the recorded checks against every submission
(:mod:`dlgrade.grading.replay`): a test passes when every check does and fails with the feedback
of its first failing one. Record mode keeps, with each public check, the answers of the
catalogued mistakes, for the students' local checks.
"""
from __future__ import annotations

from collections.abc import Iterator

from dlgrade.grading.oracle import ReferenceSet
from dlgrade.grading.probes import Probe
from dlgrade.judging import feedback


class Grader:
    """Records the checks one grader test makes, in order, into ``recorder``."""

    def __init__(self, reference: ReferenceSet, recorder: list[dict], with_mistakes: bool = False) -> None:
        self.reference = reference
        self.recorder = recorder
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
        check = {"kind": kind, "request": request, "expected": expected}
        if self.with_mistakes:
            check["mistakes"] = [list(m) for m in self.reference.distinct_mistakes(kind, request, expected)]
        self.recorder.append(check)


def judge(reference: ReferenceSet, kind: str, request: dict, expected: dict, actual: dict) -> str | None:
    """The feedback on a submission's answer to a check (None when it passes), in the
    reference's language, with a ``Hint:`` line for each catalogued mistake it reproduces (the
    mistakes run only when it fails)."""

    def mistakes() -> Iterator[tuple[str, dict]]:
        for mistake_id, response in reference.distinct_mistakes(kind, request, expected):
            yield reference.hints[mistake_id], response

    return feedback.feedback(kind, request, expected, actual, mistakes(), reference.lang)
