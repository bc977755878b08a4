"""Compare a student's answer with the expected one and say, in words, what differs.

Used by the hidden graders and by the students' local checks alike, so both print the same
messages. Everything here works on plain data (see :mod:`dlgrade.exposed.tensorio`); nothing here needs
the reference solution.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from dlgrade.exposed import execute
from dlgrade.exposed.tensorio import Opaque, as_plain_tensor
from dlgrade.judging.i18n import DEFAULT_LANG, Messages

TOLERANCES = {"float32": (1e-5, 1e-4), "float64": (1e-10, 1e-7)}  # (atol, rtol)
KINDS = ("api", "shapes", "values", "gradients", "unchanged")
_ENGLISH = Messages()  # whether a check passes does not depend on the language of its messages


def describe(value: Any) -> str:
    """Short type-and-shape description: ``float32[3, 7]``, ``(float32[3], None)``."""
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, tuple):
        inner = ", ".join(describe(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Opaque):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return f"<{type(value).__name__} object>"


def describe_call(request: dict, t: Messages = Messages()) -> str:
    """What was called, e.g. ``LSTMCell(input_size=5, hidden_size=7) in float32, then
    .forward(x=float32[3, 5])``."""
    labels = request.get("labels", {})
    arg_names = labels.get("args", [])
    parts = []
    for index, arg in enumerate(request.get("args", [])):
        name = arg_names[index] if index < len(arg_names) else None
        parts.append(f"{name}={describe(arg)}" if name else describe(arg))
    parts += [f"{k}={describe(v)}" for k, v in request.get("kwargs", {}).items()]
    call = f"({', '.join(parts)})"
    target = request["target"]
    if request.get("init") is None:
        return f"{target}{call}"
    init = ", ".join(f"{k}={v!r}" for k, v in request["init"].items())
    return t("feedback.call_module", target=target, init=init, dtype=request.get("dtype", "float32"),
             method=request.get("method", "forward"), call=call)


def _named(value: Any, labels: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, leaf)`` for a nested value, naming leaves with ``labels`` where given."""
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            sub = labels[i] if isinstance(labels, (tuple, list)) and i < len(labels) else None
            name = sub if isinstance(sub, str) else f"{prefix}[{i}]"
            yield from _named(v, sub if isinstance(sub, (tuple, list)) else None, name)
    else:
        yield prefix, value


def input_leaf_names(request: dict) -> list[str]:
    """Names of the input tensors in the order the worker lists them (args, then sorted kwargs)."""
    arg_names = request.get("labels", {}).get("args", [])
    names: list[str] = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, torch.Tensor):
            names.append(name)
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                walk(v, f"{name}[{i}]")

    for i, arg in enumerate(request.get("args", [])):
        walk(arg, arg_names[i] if i < len(arg_names) else f"argument {i}")
    kwargs = request.get("kwargs", {})
    for key in sorted(kwargs):
        walk(kwargs[key], key)
    return names


def _structure_problems(expected: Any, actual: Any, name: str, t: Messages) -> list[str]:
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return [t("feedback.expected_tensor", name=name, expected=describe(expected), got=describe(actual))]
        if actual.shape != expected.shape:
            return [t("feedback.expected_shape", name=name, expected=list(expected.shape), got=list(actual.shape))]
        if actual.dtype != expected.dtype:
            return [t("feedback.expected_dtype", name=name, expected=describe(expected).split("[")[0],
                      got=describe(actual).split("[")[0])]
        return []
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return [t("feedback.expected_value", name=name, expected=describe(expected), got=describe(actual))]
        return []
    if expected != actual:
        return [t("feedback.expected_value", name=name, expected=describe(expected), got=describe(actual))]
    return []


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


def _compare_tree(expected: Any, actual: Any, labels: Any, prefix: str, dtype: str,
                  values: bool, t: Messages) -> Iterator[str]:
    structure = _structure_problems(expected, actual, prefix, t)
    if structure:
        yield from structure
        return
    exp_leaves = _named(expected, labels, prefix)
    act_leaves = _named(actual, labels, prefix)
    for (name, exp), (_, act) in zip(exp_leaves, act_leaves):
        structure = _structure_problems(exp, act, name, t)
        if structure:
            yield from structure
        elif values and isinstance(exp, torch.Tensor):
            problem = value_problem(exp, as_plain_tensor(act), name, dtype, t)
            if problem:
                yield problem


def _call_problems(kind: str, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
    if actual.get("forbidden"):
        yield t("feedback.forbidden", used=", ".join(actual["forbidden"]))
        return
    if not actual.get("ok"):
        yield t("feedback.error_while", error=actual.get("error", "failed"),
                where=t.where(str(actual.get("where", "running"))))
        return
    dtype = request.get("dtype", "float32")
    labels = request.get("labels", {})
    out_labels = labels.get("out")
    if kind in ("shapes", "values"):
        yield from _compare_tree(expected["out"], actual["out"], out_labels, "output", dtype, kind == "values", t)
    elif kind == "unchanged":
        names = input_leaf_names(request)
        sent = execute.leaves([request.get("args", []), request.get("kwargs", {})])
        after = actual.get("inputs_after")
        if not isinstance(after, list) or len(after) != len(sent):
            yield t("feedback.inputs_unknown")
            return
        for name, before, now in zip(names, sent, after):
            if not _same_tensor(before, now):
                yield t("feedback.input_modified", name=name)
    elif kind == "gradients":
        structure = list(_compare_tree(expected["out"], actual["out"], out_labels, "output", dtype, False, t))
        if structure:
            yield from structure
            return
        exp_g, act_g = expected["grads"], actual.get("grads") or {}
        names = input_leaf_names(request)
        got_inputs = act_g.get("inputs") or []
        for i, exp in enumerate(exp_g["inputs"]):
            if exp is not None:
                got = got_inputs[i] if i < len(got_inputs) else None
                yield from _grad_problem(exp, got, t("feedback.grad_input", name=names[i]), dtype, t)
        for pname, exp in exp_g["params"].items():
            if exp is not None:
                got = (act_g.get("params") or {}).get(pname)
                yield from _grad_problem(exp, got, t("feedback.grad_param", name=pname), dtype, t)
    else:
        raise ValueError(f"unknown check kind {kind!r}")


def _same_tensor(before: torch.Tensor, after: Any) -> bool:
    """Whether ``after`` (from the worker) holds exactly the values of ``before`` (what was sent)."""
    if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
        return False
    return bool(torch.equal(as_plain_tensor(after), before))


def _grad_problem(expected: torch.Tensor, actual: Any, name: str, dtype: str, t: Messages) -> Iterator[str]:
    if actual is None:
        yield t("feedback.grad_missing", name=name)
        return
    structure = _structure_problems(expected, actual, name, t)
    if structure:
        yield from structure
        return
    problem = value_problem(expected, as_plain_tensor(actual), name, dtype, t)
    if problem:
        yield problem


def _kind(kind: Any, t: Messages) -> str:
    return t(f"kind.{kind}") if kind in ("class", "function") else t("kind.other")


def _api_problems(request: dict, expected: dict, actual: dict, t: Messages) -> list[str]:
    target = request["target"]
    if not actual.get("ok"):
        return [actual.get("error") or t("feedback.cannot_inspect")]
    if actual.get("kind") == "missing":
        return [t("feedback.not_defined", target=target)]
    if actual.get("kind") != expected.get("kind"):
        return [t("feedback.wrong_kind", target=target, expected=_kind(expected.get("kind"), t),
                  got=_kind(actual.get("kind"), t))]
    problems = []
    checks = [("init", f"{target}.__init__"), ("method", f"{target}.{request.get('method')}"),
              ("signature", target)]
    for key, label in checks:
        if key in expected and actual.get(key) != expected[key]:
            want = ", ".join(expected[key] or [])
            got = t("feedback.signature_missing") if actual.get(key) is None else "(" + ", ".join(actual[key]) + ")"
            problems.append(t("feedback.wrong_signature", label=label, expected=want, got=got))
    if expected.get("is_module") and not actual.get("is_module"):
        problems.append(t("feedback.not_a_module", target=target))
    return problems


def _problems(kind: str, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
    if kind == "api":
        return iter(_api_problems(request, expected, actual, t))
    return _call_problems(kind, request, expected, actual, t)


def problems(kind: str, request: dict, expected: dict, actual: dict, lang: str = DEFAULT_LANG) -> list[str]:
    """Everything wrong with ``actual`` for a check of ``kind``; empty when it passes."""
    return list(_problems(kind, request, expected, actual, Messages(lang)))


def agrees(kind: str, request: dict, expected: dict, actual: dict) -> bool:
    """Whether a check of ``kind`` finds nothing wrong (stops at the first problem)."""
    return next(_problems(kind, request, expected, actual, _ENGLISH), None) is None


def feedback(kind: str, request: dict, expected: dict, actual: dict,
             mistakes: Iterable[tuple[str, dict]] = (), lang: str = DEFAULT_LANG) -> str | None:
    """The message for a failing check (None when it passes), in ``lang``, with ``Hint:`` lines
    for every catalogued mistake (``(hint, answer)``) whose answer ``actual`` reproduces."""
    t = Messages(lang)
    found = list(_problems(kind, request, expected, actual, t))
    if not found:
        return None
    lines = [t("feedback.called", call=describe_call(request, t)) if kind != "api"
             else t("feedback.checked", target=request["target"])]
    lines += found
    if actual.get("ok") and not actual.get("forbidden"):
        seen = []
        for hint, response in mistakes:
            if hint not in seen and agrees(kind, request, response, actual) \
                    and not agrees(kind, request, expected, response):
                seen.append(hint)
        lines += [t("feedback.hint", hint=hint) for hint in seen]
    return "\n".join(lines)
