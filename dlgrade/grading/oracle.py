"""The reference solution and its catalogued mistakes, run in the trusted process.

Answers are cached by the request's content: a batch sends every submission the same requests,
so the reference and each mistake run once per request per grading session, not per submission.
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from dlgrade.authoring.mistakes import Mistake, module_from_source
from dlgrade.authoring.registry import Assignment
from dlgrade.authoring.translations import assignment_text
from dlgrade.exposed import execute, wire
from dlgrade.exposed.tensorio import Fingerprints
from dlgrade.grading.diagnosis import FactorDiagnosis
from dlgrade.grading.probes import Probe, grad_outputs_for, materialize
from dlgrade.judging import feedback
from dlgrade.judging.i18n import DEFAULT_LANG


class ReferenceOracle:
    """Answers requests with the reference, and with each catalogued mistake on demand.
    ``hints`` (mistake id -> hint) is what students read, in their language."""

    def __init__(self, assignment: Assignment, lang: str = DEFAULT_LANG) -> None:
        self.assignment = assignment
        self.lang = lang
        self.hints = assignment_text(assignment, lang).hints
        self.source = assignment.reference_source
        self._mistake_namespaces: dict[str, dict[str, Any]] = {}
        self._answers: dict[str, dict] = {}
        self._mistake_answers: dict[str, list[tuple[str, dict]]] = {}
        self._probes: dict[str, tuple[dict, dict]] = {}
        self._distinct: dict[tuple[str, str], list[tuple[str, dict]]] = {}
        self._verified: set[tuple[str, str]] = set()
        self._pairs: dict[tuple[str, str], list[tuple[tuple[str, str], dict]]] = {}
        self._key = Fingerprints()  # requests are not modified once made

    @cached_property
    def namespace(self) -> dict[str, Any]:
        name = self.assignment.module_name
        return module_from_source(self.source, f"_dlgrade_ref_{name}", f"<reference {name}>").__dict__

    def mistake_source(self, mistake: Mistake) -> str:
        """The reference with ``mistake`` applied: a complete wrong submission."""
        return mistake.apply(self.source)

    def _mistake_namespace(self, *mistakes: Mistake) -> dict[str, Any] | None:
        """The namespace of the reference with ``mistakes`` applied (None when their edits clash)."""
        key = "+".join(m.id for m in mistakes)
        if key not in self._mistake_namespaces:
            source = self.source
            try:
                for mistake in mistakes:
                    source = mistake.apply(source)
            except ValueError:  # one mistake's edit undoes another's text: not a pair
                self._mistake_namespaces[key] = None
                return None
            module = module_from_source(source, f"_dlgrade_mistake_{key.replace('+', '__')}", f"<mistake {key}>")
            self._mistake_namespaces[key] = module.__dict__
        return self._mistake_namespaces[key]

    @cached_property
    def diagnosis(self) -> FactorDiagnosis:
        """The factor diagnosis of this session (:mod:`dlgrade.grading.diagnosis`)."""
        return FactorDiagnosis(self.assignment.signatures, self.respond, lambda: self.namespace)

    def respond(self, request: dict) -> dict:
        """The reference's answer; it must succeed (a failure here is a bug in the grader).
        Cached: callers must not modify what it returns."""
        key = self._key(request)
        if key not in self._answers:
            response = execute.run(self.namespace, request, self.assignment.forbidden)
            if not response.get("ok"):
                raise RuntimeError(f"the reference failed on {request['target']}: {response.get('error')}")
            self._answers[key] = response
        return self._answers[key]

    def mistake_responses(self, request: dict) -> Iterator[tuple[str, dict]]:
        """``(mistake id, answer)`` of every catalogued mistake that runs on ``request`` (cached)."""
        key = self._key(request)
        if key not in self._mistake_answers:
            self._mistake_answers[key] = [
                (mistake.id, response) for mistake in self.assignment.mistakes
                if (response := execute.run(self._mistake_namespace(mistake), request, {})).get("ok")]
        yield from self._mistake_answers[key]

    def distinct_pairs(self, kind: str, request: dict, expected: dict) -> list[tuple[tuple[str, str], dict]]:
        """``((id, id), answer)`` of every pair of catalogued mistakes, each of which alone a check
        of ``kind`` tells apart from ``expected``, whose answer together is told apart from
        ``expected`` and from each one's alone (cached; asked only when no single mistake explains
        a failure)."""
        key = (kind, self._key(request))
        if key not in self._pairs:
            singles = dict(self.distinct_mistakes(kind, request, expected))
            by_id = {m.id: m for m in self.assignment.mistakes}
            ids = [m.id for m in self.assignment.mistakes if m.id in singles]
            pairs = []
            for i, first in enumerate(ids):
                for second in ids[i + 1:]:
                    namespace = self._mistake_namespace(by_id[first], by_id[second])
                    if namespace is None:
                        continue
                    response = execute.run(namespace, request, {})
                    if response.get("ok") and not any(
                            feedback.agrees(kind, request, answer, response)
                            for answer in (expected, singles[first], singles[second])):
                        pairs.append(((first, second), response))
            self._pairs[key] = pairs
        return self._pairs[key]

    def api_check(self, target: str, method: str | None) -> tuple[dict, dict]:
        """The request that inspects ``target`` (and its ``method``) and the reference's answer (cached)."""
        key = f"api {target}.{method}"
        if key not in self._probes:
            request: wire.InspectRequest = {"op": wire.Op.INSPECT, "target": target, "method": method}
            self._probes[key] = request, self.respond(request)
        return self._probes[key]

    def probe_check(self, probe: Probe, backward: bool = False) -> tuple[dict, dict]:
        """The concrete request for ``probe`` (with upstream gradients if ``backward``) and the
        reference's answer to it, both cached (callers must not modify them)."""
        key = hashlib.sha256(pickle.dumps((probe, backward))).hexdigest()
        if key not in self._probes:
            request = materialize(probe, self.namespace)
            expected = self.respond(request)
            if backward:
                request = {**request, "grad_outputs": grad_outputs_for(expected["out"], probe.seed)}
                expected = self.respond(request)
            self._probes[key] = request, expected
        return self._probes[key]

    def verify(self, kind: str, request: dict, expected: dict) -> None:
        """Check once per request that the reference passes its own check (else a grader bug)."""
        key = (kind, self._key(request))
        if key not in self._verified:
            own = feedback.problems(kind, request, expected, expected)  # English: for the instructor
            if own:
                raise RuntimeError(f"grader bug: the reference fails its own {kind} check: {own}")
            self._verified.add(key)

    def distinct_mistakes(self, kind: str, request: dict, expected: dict) -> list[tuple[str, dict]]:
        """``(mistake id, answer)`` of the mistakes that a check of ``kind`` tells apart from
        ``expected`` (the only ones that can explain a failure); cached."""
        key = (kind, self._key(request))
        if key not in self._distinct:
            self._distinct[key] = [(id_, response) for id_, response in self.mistake_responses(request)
                                   if not feedback.agrees(kind, request, expected, response)]
        return self._distinct[key]
