"""The ``grader`` fixture's object: what graders call to check a submission.

Each method builds a check (a kind, a concrete request and the reference's answer), then either
records it for the public fixtures, or sends the request to the student's worker, compares the
answer in this trusted process and raises :class:`GradeFailure` with the feedback.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from dlgrade import feedback
from dlgrade.errors import GradeFailure, WorkerError
from dlgrade.grading.reference import ReferenceSet
from dlgrade.probes import Probe

Target = Callable[[dict], dict]


class Grader:
    """Checks one submission (``target``) against the reference, or records checks (``recorder``)."""

    def __init__(self, reference: ReferenceSet, target: Target | None = None,
                 recorder: list[dict] | None = None, context: Callable[[], str] | None = None) -> None:
        self.reference = reference
        self.target = target
        self.recorder = recorder
        self.context = context or (lambda: "")

    # -- what graders call --------------------------------------------------------------------
    def api(self, target: str, method: str | None = "forward") -> None:
        """``target`` exists with the handed-out signature (class with ``method``, or function)."""
        self._check("api", *self.reference.api_check(target, method))

    def shapes(self, probe: Probe) -> None:
        """The output has the reference's structure, shapes and dtypes."""
        self._call_check("shapes", probe)

    def values(self, probe: Probe) -> None:
        """The output matches the reference's values within the dtype's tolerance."""
        self._call_check("values", probe)

    def gradients(self, probe: Probe) -> None:
        """Gradients w.r.t. every floating input and every parameter match the reference's."""
        self._call_check("gradients", probe, backward=True)

    def unchanged(self, probe: Probe) -> None:
        """The call leaves its input tensors as they were."""
        self._call_check("unchanged", probe)

    # -- machinery ----------------------------------------------------------------------------
    def _mistakes(self, kind: str, request: dict, expected: dict) -> Iterator[tuple[str, dict]]:
        """The catalogued mistakes, run only if feedback asks for them (a failed check)."""
        yield from self.reference.distinct_mistakes(kind, request, expected)

    def _call_check(self, kind: str, probe: Probe, backward: bool = False) -> None:
        request, expected = self.reference.probe_check(probe, backward)
        self._check(kind, request, expected)

    def _check(self, kind: str, request: dict, expected: dict) -> None:
        self.reference.verify(kind, request, expected)
        if self.recorder is not None:
            mistakes = self.reference.distinct_mistakes(kind, request, expected)
            self.recorder.append({"kind": kind, "request": request, "expected": expected,
                                  "mistakes": [list(m) for m in mistakes]})
            return
        assert self.target is not None, "a Grader needs a target or a recorder"
        try:
            actual = self.target(request)
        except WorkerError as exc:
            actual = {"ok": False, "error": str(exc), "where": "running"}
        message = feedback.feedback(kind, request, expected, actual, self._mistakes(kind, request, expected))
        if message is not None:
            extra = self.context()
            raise GradeFailure(message + (f"\n{extra}" if extra else ""))
