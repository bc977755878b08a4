"""The factor diagnosis: on a failing check, what the failure depends on (:mod:`dlgrade.grading.diagnosis`).

- Every variant the diagnosis can ask (each recorded grader call with one documented factor
  changed) is itself a documented input, and the reference's answer to it is PyTorch's: the
  contract checks of ``test_probe_contracts`` hold for it too, so a factor hint never rests on a
  call a correct implementation may answer differently.
- Real mistakes outside the catalogue (a transpose that assumes three dimensions, ``~mask`` on a
  0/1 mask, a state that is never carried, eps not passed on, ...) get, through the real grading
  path, the hint of the factor they depend on, in the feedback and in the test's ``extra_data``.
- Every finding the signatures can produce has its own sentence in every language.
"""
from __future__ import annotations

import json

import pytest
import torch
from conftest import alternative_styles
from test_probe_contracts import CHECKERS

from dlgrade.authoring.mistakes import module_from_source
from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.batch.run import grade
from dlgrade.exposed import execute
from dlgrade.judging.diagnosis import REPEAT, Finding, worth_diagnosing
from dlgrade.grading.factors import Call, EqualSizes
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.grading.results import MISTAKES_KEY
from dlgrade.judging import feedback
from dlgrade.judging.i18n import LANGS, Messages


# real mistakes outside the catalogue, as edits of the reference, and the factor finding (a prefix
# of its id, ``factor:was->now``) each must get
MUTANTS = {
    "attention": {
        "transpose_1_2": ((("K.transpose(-2, -1)", "K.transpose(1, 2)"),), "leading:"),
        "tilde_on_a_0_1_mask": ((("mask == 0", "~mask"),), "mask:0/1->bool"),
        "softmax_in_float32": ((("torch.softmax(scores, dim=-1)",
                                 "torch.softmax(scores, dim=-1, dtype=torch.float32)"),), "dtype:float64->float32"),
        "output_bias_by_hand": ((("return self.lin_O(merged), attention",
                                  "return merged @ self.lin_O.weight.T + self.lin_O.bias, attention"),),
                                "bias:False->True"),
    },
    "rnn": {
        "given_state_ignored": ((("if state is None:\n            zeros", "if True:\n            zeros"),),
                                "state:given->None"),
        "gru_zeros_in_float32": ((("h = x.new_zeros(x.shape[0], self.hidden_size)",
                                   "h = torch.zeros(x.shape[0], self.hidden_size)"),), "dtype:float64->float32"),
        "state_not_carried": ((("state = self.cell(x[:, t], state)\n            outputs.append(state[0])",
                                "step = self.cell(x[:, t], state)\n            outputs.append(step[0])"),
                               ("return torch.stack(outputs, dim=1), state",
                                "return torch.stack(outputs, dim=1), step")),
                              "steps:>1->1"),
    },
    "transformer": {
        "pe_assumes_even_d_model": ((("angle[:, : d_model // 2]", "angle"),), "parity:odd->even"),
        "eps_not_passed_on": ((("self.norm1 = nn.LayerNorm(d_model, eps=eps)", "self.norm1 = nn.LayerNorm(d_model)"),
                               ("self.norm2 = nn.LayerNorm(d_model, eps=eps)", "self.norm2 = nn.LayerNorm(d_model)")),
                              "eps:other->default"),
        "output_squeezed": ((("return out, attention", "return out.squeeze(), attention"),), "batch:1->>1"),
        "dropout_left_on": ((("hidden = torch.relu(self.ff1(x))",
                              "hidden = torch.nn.functional.dropout(torch.relu(self.ff1(x)), p=0.1)"),), "repeat:"),
    },
    "mdn": {
        "target_squeezed": ((("z = (y - mu) / sigma", "y = y.squeeze()\n    z = (y[:, None] - mu) / sigma"),),
                            "batch:1->>1"),
        "outputs_squeezed": ((("return pi, sigma, mu", "return pi.squeeze(), sigma.squeeze(), mu.squeeze()"),),
                             "batch:1->>1"),
    },
}
CASES = [(name, mutant) for name in MUTANTS for mutant in MUTANTS[name]]
# two catalogued mistakes in one function: no single one explains the answer, the pair does
PAIRS = {"attention": ("no_scaling", "softmax_wrong_axis"), "rnn": ("lstm_gate_order_ifog", "lstm_no_tanh_on_cell"),
         "transformer": ("pe_sin_cos_swapped", "pe_positions_from_one"),
         "mdn": ("log_likelihood_not_negated", "pi_renormalized")}
PAIR = "pair"  # the pair's submission, graded with the assignment's mutants


def mutant_source(name: str, mutant: str) -> str:
    source = get_assignment(name).reference_source
    if mutant == PAIR:
        by_id = {m.id: m for m in get_assignment(name).mistakes}
        for mistake_id in PAIRS[name]:
            source = by_id[mistake_id].apply(source)
        return source
    for old, new in MUTANTS[name][mutant][0]:
        assert source.count(old) == 1, f"{name}/{mutant}: {old!r} occurs {source.count(old)} times"
        source = source.replace(old, new)
    return source


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """``{assignment: {mutant: results}}``, each assignment's mutants graded as one batch."""
    out = tmp_path_factory.mktemp("mutants")
    graded = {}
    for name, mutants in MUTANTS.items():
        folders = []
        for mutant in [*mutants, PAIR]:
            folder = out / name / "submissions" / mutant
            folder.mkdir(parents=True)
            (folder / f"{name}.py").write_text(mutant_source(name, mutant))
            folders.append(folder)
        graded[name] = grade(get_assignment(name), folders, out / name / "results")
    return graded


@pytest.mark.slow
@pytest.mark.parametrize("name, mutant", CASES, ids=[f"{n}/{m}" for n, m in CASES])
def test_an_uncatalogued_mistake_gets_the_hint_of_the_factor_it_depends_on(graded, name, mutant):
    results = graded[name][mutant]
    want = MUTANTS[name][mutant][1]
    assert results["score"] < results["max_score"], f"{name}/{mutant} lost no points"
    found = [(test, factor) for test in results["tests"]
             for factor in ((test.get("extra_data") or {}).get(MISTAKES_KEY) or {}).get("factors", [])]
    matching = [(test, factor) for test, factor in found if factor.startswith(want)]
    assert matching, f"{name}/{mutant}: no {want} finding; found {sorted({f for _, f in found})}"
    test, factor = matching[0]
    hint = "Hint: " + Finding.from_id(factor).hint(Messages())
    assert hint in test["output"].splitlines(), f"{name}/{mutant}: {hint!r} not in\n{test['output']}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_two_catalogued_mistakes_together_get_both_hints_and_say_so(graded, name):
    results = graded[name][PAIR]
    assignment = get_assignment(name)
    hints = {m.id: m.hint for m in assignment.mistakes}
    first, second = PAIRS[name]
    said = [test for test in results["tests"]
            if tuple(((test.get("extra_data") or {}).get(MISTAKES_KEY) or {}).get("ids", [])) == (first, second)]
    assert said, f"{name}: no test explains the answer by {first} and {second}"
    lines = said[0]["output"].splitlines()
    start = lines.index(Messages()("feedback.two_mistakes"))
    assert lines[start + 1:start + 3] == [f"Hint: {hints[first]}", f"Hint: {hints[second]}"], said[0]["output"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_variant_is_a_documented_input_the_reference_answers_as_pytorch(grader_calls, name):
    """Each recorded call of the graders, with one factor changed (what the diagnosis asks), meets
    the target's contract, and the reference's answer is the built-in's (``test_probe_contracts``)."""
    diagnosis = ReferenceOracle(get_assignment(name)).diagnosis
    asked = 0
    for index, (nodeid, kind, request, _) in enumerate(grader_calls(name)):
        for variant in diagnosis.variants(kind, request):
            where = f"{nodeid} (call {index}: {request['target']}, variant {variant.finding.id})"
            assert variant.expected.get("ok"), f"{where}: the reference failed: {variant.expected.get('error')}"
            CHECKERS[name][request["target"]](name, variant.request, variant.expected, where)
            asked += 1
    assert asked, f"{name}: the diagnosis has no variant of any grader call"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_correct_implementations_in_other_styles_answer_every_variant_right(grader_calls, name):
    """No factor hint can fire for a correct implementation, whatever its style (loops, einsum,
    bmm, fused or per-gate weights, in-place ops on its own tensors: ``tests/alt_solutions``):
    each answers every variant the diagnosis can ask as the reference does (run here, in the
    test's process: this code is ours)."""
    assignment = get_assignment(name)
    diagnosis = ReferenceOracle(assignment).diagnosis
    styles = {style: module_from_source(source, f"_alt_{name}_{style}", f"<{name} in the {style} style>").__dict__
              for style, source in alternative_styles(name).items()}
    assert len(styles) >= 4, f"{name}: too few styles in tests/alt_solutions/{name}"
    asked = 0
    for nodeid, kind, request, _ in grader_calls(name):
        for variant in diagnosis.variants(kind, request):
            for style, namespace in styles.items():
                answer = execute.run(namespace, variant.request, assignment.forbidden)
                problems = feedback.problems(kind, variant.request, variant.expected, answer)
                assert not problems, f"{name}/{style}: {nodeid}, variant {variant.finding.id}: {problems}"
                asked += 1
    assert asked


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_finding_has_its_own_sentence_in_every_language(grader_calls, name):
    """A finding's hint is its factor's message (never the generic one), in English and Korean."""
    diagnosis = ReferenceOracle(get_assignment(name)).diagnosis
    findings = {v.finding for _, kind, request, _ in grader_calls(name) for v in diagnosis.variants(kind, request)}
    assert findings
    for lang in LANGS:
        t = Messages(lang)
        generic = {t("factor.generic", factor=f.factor, was=f.was, now=f.now) for f in findings}
        for finding in findings:
            assert finding.hint(t) not in generic, f"{lang}: no message for {finding.id}"


def test_every_factor_message_names_a_factor_and_a_form_it_has():
    """``factor.<name>[.<was>[><now>]]``: no message for a factor or a form that does not exist."""
    from dlgrade.judging.i18n import catalogue

    forms: dict[str, set[str]] = {REPEAT.factor: {REPEAT.was, REPEAT.now}}  # the same call, asked again
    for name in ASSIGNMENTS:
        for signature in get_assignment(name).signatures.values():
            for factor in signature.factors:
                forms.setdefault(factor.name, set()).update(factor.forms)
    for key in catalogue("en"):
        if not key.startswith("factor.") or key == "factor.generic":
            continue
        name, _, change = key[len("factor."):].partition(".")
        assert name in forms, f"{key}: no factor {name!r}"
        known = forms[name] | {f"{was}>{now}" for was in forms[name] for now in forms[name] if was != now}
        assert not change or change in known, f"{key}: no form {change!r} of {name}"


def test_a_finding_reads_back_from_its_id():
    for finding in (Finding("batch", ">1", "1"), Finding("mask", "0/1", "bool"), Finding("mask_shape", "[B,1,1,n_K]",
                                                                                      "[B,n_head,n_Q,n_K]")):
        assert Finding.from_id(finding.id) == finding
    for bad in ("", "batch", "batch:1", "batch:->1", ":1->2"):
        with pytest.raises(ValueError):
            Finding.from_id(bad)


def _call(dtype: str = "float64", grad: bool = False) -> dict:
    x = torch.linspace(-1, 1, 6, dtype=torch.float64 if dtype == "float64" else torch.float32).reshape(2, 3)
    return {"op": "call", "target": "f", "dtype": dtype, "init": None, "args": [x], "kwargs": {},
            "grad_outputs": [torch.ones(2, 3)] if grad else None, "labels": {"args": ["x"], "out": "y"}}


def _answer(out: torch.Tensor, grads=None) -> dict:
    answer = {"ok": True, "out": out, "forbidden": [], "inputs_after": []}
    if grads is not None:
        answer["grads"] = {"inputs": grads, "params": {}}
    return answer


def test_a_gradient_where_the_expected_answer_has_none_is_a_difference():
    """So a catalogued mistake that detaches everything (no gradient at all) agrees only with
    answers that have none either, not with every answer of the right shape."""
    request, out = _call(grad=True), torch.zeros(2, 3, dtype=torch.float64)
    detached, graded = _answer(out, [None]), _answer(out, [torch.ones(2, 3, dtype=torch.float64)])
    assert feedback.agrees("gradients", request, detached, detached)
    assert feedback.problems("gradients", request, detached, graded) == [
        "gradient w.r.t. input x: got a gradient where the expected answer has none"]


def test_fails_in_float64_only_when_float32_code_would():
    """``dtype:float64->float32`` is said of an answer that raised, has float32's dtype, or is right
    to float32's tolerance only; not of one whose error float32's tolerance would merely hide."""
    from dlgrade.judging.diagnosis import _precision_lost

    request, want = _call(), torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3)
    expected = _answer(want)
    assert _precision_lost("values", request, expected, {"ok": False, "error": "x", "where": "calling"})
    assert _precision_lost("values", request, expected, _answer(want.float()))  # float32 came back
    assert _precision_lost("values", request, expected, _answer(want.float().double()))  # float32's precision
    assert not _precision_lost("values", request, expected, _answer(want + 0.5))  # wrong in any dtype


def test_the_same_call_asked_again_starts_from_another_seed():
    """A repeat is the same call with the next seed: code that draws random numbers (dropout)
    answers otherwise, code that does not answers the same."""
    from dlgrade.judging.diagnosis import again

    namespace = {"noisy": lambda x: torch.nn.functional.dropout(x, p=0.5), "plain": lambda x: x * 2}
    for target, varies in (("noisy", True), ("plain", False)):
        request = {**_call(), "target": target}
        first, same = (execute.run(namespace, request, {}) for _ in range(2))
        second = execute.run(namespace, again(request), {})
        assert torch.equal(first["out"], same["out"]), f"{target}: one request, two answers"
        assert torch.equal(first["out"], second["out"]) is not varies, target


def test_only_answers_of_code_that_ran_are_diagnosed():
    assert worth_diagnosing("values", {"ok": True, "out": None})
    assert worth_diagnosing("gradients", {"ok": False, "error": "boom", "where": "calling"})
    assert not worth_diagnosing("values", {"ok": True, "forbidden": ["torch.lstm"]})
    assert not worth_diagnosing("values", {"ok": False, "error": "timed out", "where": "running"})
    assert not worth_diagnosing("api", {"ok": True})
    assert not worth_diagnosing("unchanged", {"ok": True})


def test_sizes_variant_cuts_the_larger_size_and_the_mask_with_it():
    Q, K, V = torch.zeros(2, 3, 4), torch.zeros(2, 5, 4), torch.zeros(2, 5, 6)
    mask = torch.ones(2, 1, 5, dtype=torch.bool)
    call = Call({"op": "call", "target": "f", "args": [Q, K, V, mask], "kwargs": {},
                 "labels": {"args": ["Q", "K", "V", "mask"]}})
    factor = EqualSizes("n_Q_n_K", a={"Q": -2, "mask": -2}, b={"K": -2, "V": -2, "mask": -1})
    [(form, variant)] = list(factor.variants(call, None))
    assert form == "equal"
    assert [list(t.shape) for t in variant.request["args"]] == [[2, 3, 4], [2, 3, 4], [2, 3, 6], [2, 1, 3]]
    assert call.request["args"][1].shape == (2, 5, 4), "the original request is not modified"


def test_results_keep_factor_findings_apart_from_mistake_ids():
    from dlgrade.grading.results import TestResult

    entry = TestResult("t", 0, 1, "out", "visible", factors=("bias:True->False",), assignment="a").to_gradescope(1)
    assert entry["extra_data"][MISTAKES_KEY] == {"assignment": "a", "ids": [], "factors": ["bias:True->False"]}
    assert json.loads(json.dumps(entry)) == entry
