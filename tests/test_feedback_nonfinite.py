"""``dlgrade.feedback`` with infinite and NaN values: an infinite expected value (a catalogued
mistake's answer, e.g. a loss that overflows) is matched by that same value only, never by a finite
answer (``rtol * inf`` once accepted anything)."""
import math

import pytest
import torch

from dlgrade import feedback

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
