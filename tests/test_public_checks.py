"""The students' local checks catch the cheap things before a submission is graded.

The public graders are what ``student_template/<a>/<a>_checks.json`` holds (``dlgrade generate``
records them). Checked here, on those files as shipped:

* the reference passes every public check, and every catalogued mistake that modifies an input
  in place (an id with ``in_place``, in ``MISTAKES`` or in ``IN_PLACE_MISTAKES`` of
  ``assignments/<a>/mistakes.py``) fails at least one, an in-place check among them;
* every target is called by a public check that compares numbers (values or gradients) in
  float64, and by one with a batch of one (for ``scaled_dot_product_attention`` a first leading
  dimension of 1; for ``positional_encoding``, which takes no tensors, one position).

The checks run in this process (:func:`dlgrade.handout.checks.run_checks`, as ``dlgrade check``
replays them), each call on its own copy of the request: an in-place mistake must not rewrite
the checks it is judged by.
"""
from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

import pytest
import torch

from dlgrade.authoring.mistakes import Mistake, module_from_source
from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment, load_module_from_path
from dlgrade.exposed import execute
from dlgrade.handout.checks import CheckResult, ChecksFile, load_checks, run_checks

pytestmark = pytest.mark.slow

NUMERIC_KINDS = ("values", "gradients")
HANGUL = set(chr(c) for c in range(0xAC00, 0xD7A4))


def in_place_mistakes(assignment: Assignment) -> list[Mistake]:
    """The catalogued mistakes that modify an input in place: those of ``MISTAKES`` whose id says
    ``in_place``, and ``IN_PLACE_MISTAKES`` (those waiting to join it)."""
    module = load_module_from_path(assignment.spec_dir / "mistakes.py", f"_public_checks_mistakes_{assignment.name}")
    found: dict[str, Mistake] = {}
    for mistake in [*module.MISTAKES, *getattr(module, "IN_PLACE_MISTAKES", [])]:
        if "in_place" in mistake.id:
            found.setdefault(mistake.id, mistake)
    return list(found.values())


IN_PLACE = [(name, mistake) for name in ASSIGNMENTS for mistake in in_place_mistakes(get_assignment(name))]
TARGETS = [(name, question.target) for name in ASSIGNMENTS for question in get_assignment(name).questions]


@cache
def public_checks(name: str) -> ChecksFile:
    assignment = get_assignment(name)
    return load_checks(assignment.template_dir / assignment.checks_filename)


def fresh(value: Any) -> Any:
    """``value`` with every tensor in it copied."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(fresh(v) for v in value)
    return value


def run_public_checks(name: str, source: str, label: str) -> list[CheckResult]:
    """Every public check of ``name`` replayed against the module ``source`` defines."""
    checks = public_checks(name)
    namespace = module_from_source(source, f"_public_checks_{label}", f"<{label}>").__dict__
    return run_checks(checks, lambda request: execute.run(namespace, fresh(request), checks.forbidden))


def numeric_calls(name: str, target: str) -> list[dict]:
    """The requests of the public checks that compare ``target``'s numbers."""
    return [check.request for test in public_checks(name).tests for check in test.checks
            if check.kind in NUMERIC_KINDS and check.request["target"] == target]


def named_args(request: dict) -> dict:
    names = request.get("labels", {}).get("args") or []
    return {**dict(zip(names, request.get("args") or [])), **(request.get("kwargs") or {})}


def takes_tensors(request: dict) -> bool:
    return bool(execute.leaves([request.get("args") or [], request.get("kwargs") or {}]))


def batch_of_one(request: dict) -> bool:
    args = named_args(request)
    if request["target"] == "positional_encoding":
        return args["n_position"] == 1
    if request["target"] == "scaled_dot_product_attention":  # [..., n_Q, d_k]: the first leading dimension
        return args["Q"].dim() > 2 and args["Q"].shape[0] == 1
    first = request["args"][0]
    return isinstance(first, torch.Tensor) and first.shape[0] == 1


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_reference_passes_every_public_check(name):
    results = run_public_checks(name, get_assignment(name).reference_source, f"reference_{name}")
    assert results, f"{name}: no public checks"
    failed = {r.name: r.message for r in results if not r.passed}
    assert not failed, f"{name}: the reference fails public checks: {failed}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_assignment_catalogues_an_in_place_mistake(name):
    assert any(n == name for n, _ in IN_PLACE), f"{name}: no mistake modifying an input in place"


@pytest.mark.parametrize("name, mistake", IN_PLACE, ids=[f"{n}-{m.id}" for n, m in IN_PLACE])
def test_an_in_place_mistake_fails_a_public_in_place_check(name, mistake):
    assignment = get_assignment(name)
    source = mistake.apply(assignment.reference_source)  # each edit applies exactly once
    results = run_public_checks(name, source, f"{name}_{mistake.id}")
    failed = {r.name: r.message for r in results if not r.passed}
    assert failed, f"{name}/{mistake.id} passes every public check"
    in_place_tests = {test.name for test in public_checks(name).tests
                      if any(check.kind == "unchanged" for check in test.checks)}
    caught = {test: message for test, message in failed.items() if test in in_place_tests}
    assert caught, f"{name}/{mistake.id} fails only {sorted(failed)}, no public in-place check"
    assert all("in place" in message for message in caught.values()), caught


@pytest.mark.parametrize("name, mistake", IN_PLACE, ids=[f"{n}-{m.id}" for n, m in IN_PLACE])
def test_an_in_place_mistake_has_a_korean_hint(name, mistake):
    """In ``[hints]`` once catalogued, in ``[pending_hints]`` while it waits in ``IN_PLACE_MISTAKES``."""
    data = tomllib.loads((get_assignment(name).spec_dir / "ko.toml").read_text(encoding="utf-8"))
    hint = data.get("hints", {}).get(mistake.id) or data.get("pending_hints", {}).get(mistake.id)
    assert isinstance(hint, str) and HANGUL & set(hint), f"{name}/{mistake.id}: no Korean hint"
    assert "in place" in mistake.hint, mistake.hint


@pytest.mark.parametrize("name, target", TARGETS, ids=[f"{n}-{t}" for n, t in TARGETS])
def test_every_target_is_checked_in_float64_by_a_public_check(name, target):
    calls = numeric_calls(name, target)
    assert calls, f"{name}: no public check compares the numbers of {target}"
    if not any(takes_tensors(request) for request in calls):
        return  # positional_encoding takes ints: it has no dtype to vary
    assert any(request["dtype"] == "float64" for request in calls), \
        f"{name}: no public check calls {target} in float64"


@pytest.mark.parametrize("name, target", TARGETS, ids=[f"{n}-{t}" for n, t in TARGETS])
def test_every_target_is_checked_with_a_batch_of_one_by_a_public_check(name, target):
    calls = numeric_calls(name, target)
    assert calls, f"{name}: no public check compares the numbers of {target}"
    assert any(batch_of_one(request) for request in calls), \
        f"{name}: no public check calls {target} with a batch of one"
