"""The ``grader`` fixture's object: what graders call to check a submission.

Each method builds a check (a kind, a concrete request and the reference's answer), then either
records it for the public fixtures, or sends the request to the student's worker, compares the
answer in this trusted process and raises :class:`GradeFailure` with the feedback.
"""
from __future__ import annotations

from collections.abc import Callable
from dlgrade import feedback
from dlgrade.errors import GradeFailure, WorkerError
from dlgrade.grading.reference import ReferenceSet
from dlgrade.probes import Probe, grad_outputs_for, materialize

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
        request = {"op": "inspect", "target": target, "method": method}
        self._check("api", request, self.reference.respond(request))

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
    def _call_check(self, kind: str, probe: Probe, backward: bool = False) -> None:
        request = materialize(probe, self.reference.namespace)
        expected = self.reference.respond(request)
        if backward:
            request["grad_outputs"] = grad_outputs_for(expected["out"], probe.seed)
            expected = self.reference.respond(request)
        self._check(kind, request, expected)

    def _check(self, kind: str, request: dict, expected: dict) -> None:
        own = feedback.problems(kind, request, expected, expected)
        if own:
            raise RuntimeError(f"grader bug: the reference fails its own {kind} check: {own}")
        if self.recorder is not None:
            mistakes = [[hint, response] for hint, response in self.reference.mistake_responses(request)
                        if feedback.problems(kind, request, expected, response)]
            self.recorder.append({"kind": kind, "request": request, "expected": expected, "mistakes": mistakes})
            return
        assert self.target is not None, "a Grader needs a target or a recorder"
        try:
            actual = self.target(request)
        except WorkerError as exc:
            actual = {"ok": False, "error": str(exc), "where": "running"}
        message = feedback.feedback(kind, request, expected, actual,
                                    self.reference.mistake_responses(request))
        if message is not None:
            extra = self.context()
            raise GradeFailure(message + (f"\n{extra}" if extra else ""))
