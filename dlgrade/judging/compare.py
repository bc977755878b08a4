"""Whether a value is what was expected, and where it is not: structure, shapes, dtypes, values.

Values are compared within the dtype's tolerance (:data:`TOLERANCES`), in float64 with numpy;
each problem is one sentence in the caller's language; what of the answer it shows is escaped
onto that line (:func:`dlgrade.judging.student_text.inline`).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from dlgrade.exposed.tensorio import as_plain_tensor
from dlgrade.judging.describe import describe, named_leaves
from dlgrade.judging.i18n import Messages
from dlgrade.judging.student_text import inline

TOLERANCES = {"float32": (1e-5, 1e-4), "float64": (1e-10, 1e-7)}  # (atol, rtol)


def structure_problems(expected: Any, actual: Any, name: str, t: Messages) -> list[str]:
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return [t("feedback.expected_tensor", name=name, expected=describe(expected), got=_got(actual, t))]
        if actual.shape != expected.shape:
            return [t("feedback.expected_shape", name=name, expected=list(expected.shape), got=list(actual.shape))]
        if actual.dtype != expected.dtype:
            return [t("feedback.expected_dtype", name=name, expected=describe(expected).split("[")[0],
                      got=describe(actual).split("[")[0])]
        return []
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return [t("feedback.expected_value", name=name, expected=describe(expected), got=_got(actual, t))]
        return []
    if expected != actual:
        return [t("feedback.expected_value", name=name, expected=describe(expected), got=_got(actual, t))]
    return []


def _got(actual: Any, t: Messages) -> str:
    """What came back, in words: on one line, capped (its strings and names are the student's)."""
    return inline(describe(actual), t=t)


def _index(flat_index: int, shape: torch.Size) -> list[int]:
    where = []
    for size in reversed(shape):
        where.append(flat_index % size)
        flat_index //= size
    return list(reversed(where))


def value_problem(expected: torch.Tensor, actual: torch.Tensor, name: str, dtype: str,
                  t: Messages = Messages()) -> str | None:
    """None when ``actual`` is close to ``expected``; otherwise where and by how much it is off.

    Compared in float64 with numpy (for the small tensors graders use, torch's per-op overhead
    would dominate a batch's comparisons)."""
    atol, rtol = TOLERANCES.get(dtype, TOLERANCES["float32"])
    if not expected.is_floating_point():
        if torch.equal(expected, actual):
            return None
        wrong = (expected != actual).nonzero()
        return t("feedback.values_differ", name=name, count=len(wrong), total=expected.numel(),
                 where=wrong[0].tolist())
    exp = expected.detach().numpy().astype(np.float64)
    act = actual.detach().numpy().astype(np.float64)
    finite = np.isfinite(exp)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(act - exp)
        # all finite and close (a NaN anywhere fails this); an infinite expected value gives no
        # relative tolerance (rtol * inf would accept any finite value)
        if np.all(diff <= atol + rtol * np.where(finite, np.abs(exp), 0.0)):
            return None
    bad_nonfinite = np.isfinite(act) != finite
    if bad_nonfinite.any():
        where = _index(int(np.flatnonzero(bad_nonfinite)[0]), expected.shape)
        got = act[tuple(where)].item() if where else act.item()
        if finite[tuple(where)]:
            return t("feedback.not_finite", name=name, got=got, where=where)
        return t("feedback.other_value", name=name, got=got, where=where, expected=exp[tuple(where)].item())
    diff = np.nan_to_num(diff, nan=0.0)
    off = diff > atol + rtol * np.nan_to_num(np.abs(exp), nan=0.0)
    if not off.any():
        return None
    flat = int(diff.argmax())
    where = _index(flat, expected.shape)
    exp_v, got_v = exp.flat[flat].item(), act.flat[flat].item()
    return t("feedback.values_off", name=name, error=f"{diff.max().item():.3g}", where=where,
             expected=f"{exp_v:.6g}", got=f"{got_v:.6g}", count=int(off.sum()), total=off.size,
             atol=f"{atol:g}", rtol=f"{rtol:g}")


def compare_tree(expected: Any, actual: Any, labels: Any, prefix: str, dtype: str,
                  values: bool, t: Messages) -> Iterator[str]:
    structure = structure_problems(expected, actual, prefix, t)
    if structure:
        yield from structure
        return
    exp_leaves = named_leaves(expected, labels, prefix)
    act_leaves = named_leaves(actual, labels, prefix)
    for (name, exp), (_, act) in zip(exp_leaves, act_leaves):
        structure = structure_problems(exp, act, name, t)
        if structure:
            yield from structure
        elif values and isinstance(exp, torch.Tensor):
            problem = value_problem(exp, as_plain_tensor(act), name, dtype, t)
            if problem:
                yield problem


def same_tensor(before: torch.Tensor, after: Any) -> bool:
    """Whether ``after`` (from the worker) holds exactly the values of ``before`` (what was sent)."""
    if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
        return False
    return bool(torch.equal(as_plain_tensor(after), before))


def grad_problem(expected: torch.Tensor, actual: Any, name: str, dtype: str, t: Messages) -> Iterator[str]:
    if actual is None:
        yield t("feedback.grad_missing", name=name)
        return
    structure = structure_problems(expected, actual, name, t)
    if structure:
        yield from structure
        return
    problem = value_problem(expected, as_plain_tensor(actual), name, dtype, t)
    if problem:
        yield problem
