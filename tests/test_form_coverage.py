"""Every input form the API allows is exercised by a grader probe.

Each assignment lists, per target, the forms its docstring allows as factors (``FORMS`` in
``assignments/<name>/assignment.py``; :mod:`dlgrade.grading.factors`): leading dimensions, masks
bool or 0/1 in each broadcastable shape, a state given or not, each dtype, ``bias`` on and off,
a batch of one, ``n_Q != n_K``, ``d_k != d_v``, odd and even sizes, ``eps``... The graders of each
assignment are recorded once (hidden ones included) and every documented form must appear in at
least one of their calls: a form no probe has fails here, naming the target and the form.
"""
from __future__ import annotations

import pytest
import torch

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.grading.factors import Batch, DType, Leading, MaskKind, Signature, uncovered_forms


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_documented_form_has_a_grader_probe(grader_calls, name):
    signatures = get_assignment(name).signatures
    requests = [request for _, _, request, _ in grader_calls(name)]
    targets = {request["target"] for request in requests}
    assert targets, f"{name}: the graders make no call"
    assert targets <= set(signatures), f"{name}: no documented forms (FORMS) for {sorted(targets - set(signatures))}"
    missing = {target: uncovered_forms(signature, requests) for target, signature in signatures.items()}
    missing = {target: forms for target, forms in missing.items() if forms}
    assert not missing, f"{name}: documented forms no grader probe has: {missing}"


def _sdpa_call(*shapes: tuple[int, ...], mask=None, dtype="float32") -> dict:
    args = [torch.zeros(s, dtype=torch.float64 if dtype == "float64" else torch.float32) for s in shapes]
    if mask is not None:
        args.append(mask)
    return {"op": "call", "target": "f", "dtype": dtype, "args": args, "kwargs": {},
            "labels": {"args": ["Q", "K", "V", "mask"], "out": None}}


SIGNATURE = Signature("f", (DType(), MaskKind(), Leading(), Batch()), core={"Q": 2, "K": 2, "V": 2, "mask": 2},
                      any_leading=True, scores=lambda c: (*c.get("Q").shape[:-1], c.get("K").shape[-2]),
                      score_names=("n_Q", "n_K"))


def test_a_form_no_probe_has_is_reported():
    """The coverage can fail: calls in float32, unmasked, with one leading dimension of 2 leave
    float64, both masks, no and several leading dimensions and a batch of one uncovered."""
    requests = [_sdpa_call((2, 3, 4), (2, 5, 4), (2, 5, 6))]
    assert uncovered_forms(SIGNATURE, requests) == [
        ("dtype", "float64"), ("mask", "bool"), ("mask", "0/1"), ("leading", "0"), ("leading", "2+"), ("batch", "1")]
    requests += [_sdpa_call((3, 4), (5, 4), (5, 6), mask=torch.ones(5, dtype=torch.bool), dtype="float64"),
                 _sdpa_call((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 6), mask=torch.ones(3, 5, dtype=torch.long))]
    assert uncovered_forms(SIGNATURE, requests) == []


def test_calls_of_other_targets_cover_nothing():
    request = {**_sdpa_call((2, 3, 4), (2, 5, 4), (2, 5, 6)), "target": "g"}
    assert len(uncovered_forms(SIGNATURE, [request])) == 10  # every form of the four factors
