"""Unit tests of the comparison and feedback messages (dlgrade.judging.feedback)."""
import math

import pytest
import torch

from dlgrade.exposed.tensorio import Opaque
from dlgrade.judging import feedback


def _request(**extra):
    base = {"op": "call", "target": "LSTMCell", "init": {"input_size": 2, "hidden_size": 3}, "dtype": "float32",
            "method": "forward", "args": [torch.zeros(4, 2)], "kwargs": {},
            "labels": {"args": ["x", "state"], "out": ["h_next", "c_next"]}}
    base.update(extra)
    return base


def _answer(*out, **extra):
    return {"ok": True, "out": tuple(out), "forbidden": [], **extra}


def test_value_problem_reports_max_error_and_where():
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[1, 2] = 0.5
    message = feedback.value_problem(expected, actual, "h_next", "float32")
    assert "max abs error 0.5 at [1, 2]" in message
    assert "expected 0, got 0.5" in message
    assert "1 of 6 values are off" in message


def test_value_problem_accepts_values_within_tolerance_only():
    expected = torch.ones(3, dtype=torch.float64)
    assert feedback.value_problem(expected, expected + 1e-12, "x", "float64") is None
    assert feedback.value_problem(expected, expected + 1e-6, "x", "float64") is not None
    assert feedback.value_problem(expected.float(), expected.float() + 1e-6, "x", "float32") is None


def test_nan_where_finite_expected_is_reported():
    actual = torch.tensor([1.0, float("nan")])
    message = feedback.value_problem(torch.tensor([1.0, 2.0]), actual, "out", "float32")
    assert "got nan at [1]" in message


def test_shape_and_type_mismatches_are_named():
    request = _request()
    expected = _answer(torch.zeros(4, 3), torch.zeros(4, 3))
    wrong_shape = _answer(torch.zeros(3, 4), torch.zeros(4, 3))
    assert feedback.problems("values", request, expected, wrong_shape) == [
        "h_next: expected shape [4, 3], got [3, 4]"]
    wrong_type = {"ok": True, "out": Opaque("str"), "forbidden": []}
    [message] = feedback.problems("shapes", request, expected, wrong_type)
    assert "expected (float32[4, 3], float32[4, 3])" in message and "<str object>" in message
    wrong_dtype = _answer(torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 3))
    assert "expected dtype float32, got float64" in feedback.problems("shapes", request, expected, wrong_dtype)[0]


def test_feedback_names_the_call_and_matching_mistakes_only():
    request = _request()
    expected = _answer(torch.zeros(4, 3), torch.zeros(4, 3))
    student = _answer(torch.ones(4, 3), torch.zeros(4, 3))
    mistakes = [("same as the student", _answer(torch.ones(4, 3), torch.zeros(4, 3))),
                ("something else", _answer(torch.full((4, 3), 2.0), torch.zeros(4, 3))),
                ("harmless", expected)]
    message = feedback.feedback("values", request, expected, student, mistakes)
    lines = message.splitlines()
    assert lines[0] == ("Called: LSTMCell(input_size=2, hidden_size=3) in float32, "
                        "then .forward(x=float32[4, 2])")
    assert "Hint: same as the student" in lines
    assert not any("something else" in line or "harmless" in line for line in lines)
    assert feedback.feedback("values", request, expected, expected, mistakes) is None


def test_errors_and_forbidden_calls_fail_without_hints():
    request = _request()
    expected = _answer(torch.zeros(4, 3), torch.zeros(4, 3))
    crashed = {"ok": False, "error": "ValueError: boom (line 3: x)", "where": "calling"}
    assert "Error (while calling):\n  | ValueError: boom (line 3: x)" in feedback.feedback("values", request, expected, crashed)
    cheated = dict(expected, forbidden=["torch.lstm_cell (nn.LSTMCell)"])
    message = feedback.feedback("values", request, expected, cheated, [("x", expected)])
    assert "uses torch.lstm_cell (nn.LSTMCell), which this assignment asks you to implement yourself" in message
    assert "Hint" not in message


def test_gradient_problems_name_inputs_and_parameters():
    request = _request(args=[torch.zeros(4, 2), (torch.zeros(4, 3), torch.zeros(4, 3))])
    grads = {"inputs": [torch.ones(4, 2), torch.ones(4, 3), torch.ones(4, 3)], "params": {"weight_ih": torch.ones(12, 2)}}
    expected = _answer(torch.zeros(4, 3), torch.zeros(4, 3), grads=grads)
    detached = _answer(torch.zeros(4, 3), torch.zeros(4, 3),
                       grads={"inputs": [None, torch.ones(4, 3), torch.ones(4, 3)], "params": {"weight_ih": torch.zeros(12, 2)}})
    found = feedback.problems("gradients", request, expected, detached)
    assert found[0].startswith("gradient w.r.t. input x: missing")
    assert found[1].startswith("gradient w.r.t. parameter weight_ih: max abs error 1")
    assert len(found) == 2


def test_unchanged_compares_what_was_sent_with_what_came_back():
    state = (torch.zeros(4, 3), torch.zeros(4, 3))
    request = _request(args=[torch.zeros(4, 2), state])
    expected = _answer(torch.zeros(4, 3), torch.zeros(4, 3), inputs_after=[torch.zeros(4, 2), *state])
    changed = dict(expected, inputs_after=[torch.zeros(4, 2), torch.zeros(4, 3), torch.ones(4, 3)])
    assert feedback.problems("unchanged", request, expected, changed) == [
        "your code modified its input state[1] in place"]
    assert feedback.problems("unchanged", request, expected, expected) == []
    incomplete = dict(expected, inputs_after=[torch.zeros(4, 2)])
    assert "could not tell" in feedback.problems("unchanged", request, expected, incomplete)[0]


def test_api_problems_compare_signatures():
    request = {"op": "inspect", "target": "LSTMCell", "method": "forward"}
    expected = {"ok": True, "kind": "class", "is_module": True, "init": ["self", "input_size", "hidden_size", "bias"],
                "method": ["self", "x", "state"]}
    renamed = dict(expected, method=["self", "inputs", "state"])
    assert feedback.problems("api", request, expected, renamed) == [
        "LSTMCell.forward should take (self, x, state), got (self, inputs, state)"]
    assert feedback.problems("api", request, expected, {"ok": True, "kind": "missing"}) == [
        "LSTMCell is not defined in your code"]
    assert feedback.problems("api", request, expected, expected) == []


# -- infinite and NaN values -----------------------------------------------------------------
# An infinite expected value (a catalogued mistake's answer, e.g. a loss that overflows) is
# matched by that same value only, never by a finite answer (``rtol * inf`` once accepted anything).
INF, NAN = math.inf, math.nan


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_finite_value_does_not_match_an_infinite_one(dtype):
    torch_dtype = getattr(torch, dtype)
    message = feedback.value_problem(torch.tensor(INF, dtype=torch_dtype), torch.tensor(7485.7, dtype=torch_dtype),
                                     "output", dtype)
    assert message is not None and "where inf was expected" in message
    message = feedback.value_problem(torch.tensor([1.0, -INF]), torch.tensor([1.0, -1e30]), "output", "float32")
    assert message == "output: got -1.0000000150474662e+30 at [1] where -inf was expected"


def test_non_finite_values_match_the_same_non_finite_values():
    assert feedback.value_problem(torch.tensor(INF), torch.tensor(INF), "output", "float32") is None
    assert feedback.value_problem(torch.tensor([2.0, -INF]), torch.tensor([2.0, -INF]), "output", "float64") is None
    assert feedback.value_problem(torch.tensor([NAN, 1.0]), torch.tensor([NAN, 1.0]), "output", "float32") is None
    assert feedback.value_problem(torch.tensor(INF), torch.tensor(-INF), "output", "float32") is not None


def test_finite_comparisons_are_unchanged():
    assert feedback.value_problem(torch.tensor(1e4), torch.tensor(1e4 + 0.5), "output", "float32") is None
    assert feedback.value_problem(torch.tensor(1e4), torch.tensor(1e4 + 2.0), "output", "float32") is not None
    assert feedback.value_problem(torch.tensor(2.0), torch.tensor(INF), "output", "float32") == \
        "output: got inf at [] where a finite value was expected"


def test_an_overflowing_mistake_is_hinted_only_to_answers_that_overflow_too():
    request = {"op": "call", "target": "loss", "init": None, "dtype": "float32", "args": [torch.zeros(2)],
               "kwargs": {}, "labels": {"args": ["x"], "out": "loss"}}
    expected = {"ok": True, "out": torch.tensor(7487.28), "forbidden": []}
    mistakes = [("the loss overflows.", {"ok": True, "out": torch.tensor(INF), "forbidden": []})]
    finite_but_wrong = {"ok": True, "out": torch.tensor(7485.70), "forbidden": []}
    overflowing = {"ok": True, "out": torch.tensor(INF), "forbidden": []}
    assert "Hint:" not in feedback.feedback("values", request, expected, finite_but_wrong, mistakes)
    assert "Hint: the loss overflows." in feedback.feedback("values", request, expected, overflowing, mistakes)
