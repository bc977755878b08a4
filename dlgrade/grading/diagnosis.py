"""Say what a failure depends on, as a TA would: re-ask the failing call with one factor changed.

On a check that fails, :class:`FactorDiagnosis` takes the call's target's documented forms
(:class:`~dlgrade.grading.factors.Signature`, from the assignment's ``FORMS``), makes the same
call with one factor changed at a time (float32 instead of float64, no mask, ``bias=False``, a
batch of one, ...), has the reference answer each variant and asks the submission the same: a
factor whose change makes the answer right is what the failure depends on ("fails with
bias=True, works with bias=False"). Those become ``Hint:`` lines (``factor.<name>`` messages;
the findings and the asking loop are :mod:`dlgrade.judging.diagnosis`, which the students'
checks use too, with the variants recorded in their checks file).

It runs only on failures, in the trusted process; the variants and the reference's answers to
them are made once per grading session (cached by the failing request), so every submission
that fails the same check is asked the same variants. The submission's answers come through the
same worker as every other request. A variant that kills or stalls the worker stops the
diagnosis of that check.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dlgrade.exposed import wire
from dlgrade.exposed.execute import DTYPES
from dlgrade.exposed.tensorio import Fingerprints
from dlgrade.grading.factors import Call, Signature
from dlgrade.grading.probes import grad_outputs_for
from dlgrade.judging import feedback
from dlgrade.judging.diagnosis import Finding, findings


@dataclass(frozen=True)
class Variant:
    """One variant of a failing check: its factor's change, its request and the reference's answer."""

    finding: Finding
    request: dict
    expected: dict


class FactorDiagnosis:
    """The factor diagnosis of one grading session: ``signatures`` by target; ``respond`` is the
    reference's answer to a request; ``namespace`` builds the reference's modules (parameters of
    a variant whose constructor arguments changed)."""

    def __init__(self, signatures: dict[str, Signature], respond: Callable[[dict], dict],
                 namespace: Callable[[], dict]) -> None:
        self.signatures = signatures
        self.respond = respond
        self.namespace = namespace
        self._variants: dict[tuple[str, str], list[Variant]] = {}
        self._key = Fingerprints()

    def variants(self, kind: str, request: dict) -> list[Variant]:
        """The variants of a check of ``kind`` on ``request`` (made once per session)."""
        key = (kind, self._key(request))
        if key not in self._variants:
            self._variants[key] = list(self._make(kind, request))
        return self._variants[key]

    def _make(self, kind: str, request: dict):
        signature = self.signatures.get(request.get("target", ""))
        if signature is None or request.get("op") != wire.Op.CALL:
            return
        for factor, was, now, call in signature.variants(request):
            variant = self._concrete(call, backward=request.get("grad_outputs") is not None)
            if variant is None:
                continue
            variant_request, expected = variant
            if feedback.agrees(kind, variant_request, expected, expected):  # the reference passes it
                yield Variant(Finding(factor.name, was, now), variant_request, expected)

    def _concrete(self, call: Call, backward: bool) -> tuple[dict, dict] | None:
        """The variant's request (new parameters when its constructor arguments changed, new
        upstream gradients for a gradient check) and the reference's answer; None when the
        reference cannot answer it (it is then not a variant worth asking)."""
        request = {**call.request, "grad_outputs": None}
        if call.rebuild:
            request["state_dict"] = self._parameters(request)
        try:
            expected = self.respond(request)
            if backward:
                request = {**request, "grad_outputs": grad_outputs_for(expected["out"], 0)}
                expected = self.respond(request)
        except RuntimeError:
            return None
        return request, expected

    def _parameters(self, request: dict) -> dict:
        """The reference module's parameters for the variant's constructor arguments, keeping
        every one the original call set that still exists with the same shape."""
        dtype = DTYPES[request.get("dtype", "float32")]
        torch.default_generator.manual_seed(0)
        module = self.namespace()[request["target"]](**request["init"])
        given = request.get("state_dict") or {}
        state = {}
        for name, value in module.state_dict().items():
            old = given.get(name)
            state[name] = old if isinstance(old, torch.Tensor) and old.shape == value.shape \
                else value.detach().to(dtype).clone()
        return state

    def diagnose(self, kind: str, request: dict, expected: dict, actual: dict,
                 ask: Callable[[dict], dict]) -> list[Finding]:
        """The factors a failing check's verdict depends on: those whose variant ``ask`` (the
        submission) answers right, in the signature's order, the first such variant of each."""
        return findings(kind, [(v.finding, v.request, v.expected) for v in self.variants(kind, request)],
                        request, expected, actual, ask)
