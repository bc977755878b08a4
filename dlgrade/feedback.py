"""Compare a student's answer with the expected one and say, in words, what differs.

Used by the hidden graders and by the students' local checks alike, so both print the same
messages. Everything here works on plain data (see :mod:`dlgrade.tensorio`); nothing here needs
the reference solution.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from dlgrade import execute
from dlgrade.tensorio import Opaque, as_plain_tensor

TOLERANCES = {"float32": (1e-5, 1e-4), "float64": (1e-10, 1e-7)}  # (atol, rtol)
KINDS = ("api", "shapes", "values", "gradients", "unchanged")


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


def describe_call(request: dict) -> str:
    """What was called, e.g. ``LSTMCell(input_size=5, hidden_size=7).forward(x=float32[3, 5])``."""
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
    return f"{target}({init}) in {request.get('dtype', 'float32')}, then .{request.get('method', 'forward')}{call}"


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


def _structure_problems(expected: Any, actual: Any, name: str) -> list[str]:
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return [f"{name}: expected a tensor {describe(expected)}, got {describe(actual)}"]
        if actual.shape != expected.shape:
            return [f"{name}: expected shape {list(expected.shape)}, got {list(actual.shape)}"]
        if actual.dtype != expected.dtype:
            return [f"{name}: expected dtype {describe(expected).split('[')[0]}, got {describe(actual).split('[')[0]}"]
        return []
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return [f"{name}: expected {describe(expected)}, got {describe(actual)}"]
        return []
    if expected != actual:
        return [f"{name}: expected {describe(expected)}, got {describe(actual)}"]
    return []


def _index(flat_index: int, shape: torch.Size) -> list[int]:
    where = []
    for size in reversed(shape):
        where.append(flat_index % size)
        flat_index //= size
    return list(reversed(where))


def value_problem(expected: torch.Tensor, actual: torch.Tensor, name: str, dtype: str) -> str | None:
    """None when ``actual`` is close to ``expected``; otherwise where and by how much it is off.

    Compared in float64 with numpy (for the small tensors graders use, torch's per-op overhead
    would dominate a batch's comparisons)."""
    atol, rtol = TOLERANCES.get(dtype, TOLERANCES["float32"])
    if not expected.is_floating_point():
        if torch.equal(expected, actual):
            return None
        wrong = (expected != actual).nonzero()
        return f"{name}: {len(wrong)} of {expected.numel()} values differ, first at {wrong[0].tolist()}"
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
        want = "a finite value" if finite[tuple(where)] else exp[tuple(where)].item()
        return f"{name}: got {got} at {where} where {want} was expected"
    diff = np.nan_to_num(diff, nan=0.0)
    off = diff > atol + rtol * np.nan_to_num(np.abs(exp), nan=0.0)
    if not off.any():
        return None
    flat = int(diff.argmax())
    where = _index(flat, expected.shape)
    exp_v, got_v = exp.flat[flat].item(), act.flat[flat].item()
    return (f"{name}: max abs error {diff.max().item():.3g} at {where} (expected {exp_v:.6g}, got {got_v:.6g}); "
            f"{int(off.sum())} of {off.size} values are off (atol {atol:g}, rtol {rtol:g})")


def _compare_tree(expected: Any, actual: Any, labels: Any, prefix: str, dtype: str,
                  values: bool) -> Iterator[str]:
    structure = _structure_problems(expected, actual, prefix)
    if structure:
        yield from structure
        return
    exp_leaves = _named(expected, labels, prefix)
    act_leaves = _named(actual, labels, prefix)
    for (name, exp), (_, act) in zip(exp_leaves, act_leaves):
        structure = _structure_problems(exp, act, name)
        if structure:
            yield from structure
        elif values and isinstance(exp, torch.Tensor):
            problem = value_problem(exp, as_plain_tensor(act), name, dtype)
            if problem:
                yield problem


def _call_problems(kind: str, request: dict, expected: dict, actual: dict) -> Iterator[str]:
    if actual.get("forbidden"):
        used = ", ".join(actual["forbidden"])
        yield (f"your code uses {used}, which this assignment asks you to implement yourself; "
               "tests that run it score 0")
        return
    if not actual.get("ok"):
        yield f"{actual.get('error', 'failed')} (while {actual.get('where', 'running')})"
        return
    dtype = request.get("dtype", "float32")
    labels = request.get("labels", {})
    out_labels = labels.get("out")
    if kind in ("shapes", "values"):
        yield from _compare_tree(expected["out"], actual["out"], out_labels, "output", dtype, kind == "values")
    elif kind == "unchanged":
        names = input_leaf_names(request)
        sent = execute.leaves([request.get("args", []), request.get("kwargs", {})])
        after = actual.get("inputs_after")
        if not isinstance(after, list) or len(after) != len(sent):
            yield "could not tell whether your code modified its inputs (the worker's answer is incomplete)"
            return
        for name, before, now in zip(names, sent, after):
            if not _same_tensor(before, now):
                yield f"your code modified its input {name} in place"
    elif kind == "gradients":
        structure = list(_compare_tree(expected["out"], actual["out"], out_labels, "output", dtype, False))
        if structure:
            yield from structure
            return
        exp_g, act_g = expected["grads"], actual.get("grads") or {}
        names = input_leaf_names(request)
        got_inputs = act_g.get("inputs") or []
        for i, exp in enumerate(exp_g["inputs"]):
            if exp is not None:
                got = got_inputs[i] if i < len(got_inputs) else None
                yield from _grad_problem(exp, got, f"gradient w.r.t. input {names[i]}", dtype)
        for pname, exp in exp_g["params"].items():
            if exp is not None:
                got = (act_g.get("params") or {}).get(pname)
                yield from _grad_problem(exp, got, f"gradient w.r.t. parameter {pname}", dtype)
    else:
        raise ValueError(f"unknown check kind {kind!r}")


def _same_tensor(before: torch.Tensor, after: Any) -> bool:
    """Whether ``after`` (from the worker) holds exactly the values of ``before`` (what was sent)."""
    if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
        return False
    return bool(torch.equal(as_plain_tensor(after), before))


def _grad_problem(expected: torch.Tensor, actual: Any, name: str, dtype: str) -> Iterator[str]:
    if actual is None:
        yield (f"{name}: missing (the output does not depend on it through autograd: "
               ".detach(), .data, torch.no_grad() or a value rebuilt from numpy?)")
        return
    structure = _structure_problems(expected, actual, name)
    if structure:
        yield from structure
        return
    problem = value_problem(expected, as_plain_tensor(actual), name, dtype)
    if problem:
        yield problem


def _api_problems(request: dict, expected: dict, actual: dict) -> list[str]:
    target = request["target"]
    if not actual.get("ok"):
        return [actual.get("error", "could not inspect your code")]
    if actual.get("kind") == "missing":
        return [f"{target} is not defined in your code"]
    if actual.get("kind") != expected.get("kind"):
        return [f"{target} should be a {expected.get('kind')}, but it is a {actual.get('kind')}"]
    problems = []
    checks = [("init", f"{target}.__init__"), ("method", f"{target}.{request.get('method')}"),
              ("signature", target)]
    for key, label in checks:
        if key in expected and actual.get(key) != expected[key]:
            want = ", ".join(expected[key] or [])
            got = "missing" if actual.get(key) is None else "(" + ", ".join(actual[key]) + ")"
            problems.append(f"{label} should take ({want}), got {got}")
    if expected.get("is_module") and not actual.get("is_module"):
        problems.append(f"{target} must subclass torch.nn.Module")
    return problems


def _problems(kind: str, request: dict, expected: dict, actual: dict) -> Iterator[str]:
    if kind == "api":
        return iter(_api_problems(request, expected, actual))
    return _call_problems(kind, request, expected, actual)


def problems(kind: str, request: dict, expected: dict, actual: dict) -> list[str]:
    """Everything wrong with ``actual`` for a check of ``kind``; empty when it passes."""
    return list(_problems(kind, request, expected, actual))


def agrees(kind: str, request: dict, expected: dict, actual: dict) -> bool:
    """Whether a check of ``kind`` finds nothing wrong (stops at the first problem)."""
    return next(_problems(kind, request, expected, actual), None) is None


def feedback(kind: str, request: dict, expected: dict, actual: dict,
             mistakes: Iterable[tuple[str, dict]] = ()) -> str | None:
    """The message for a failing check (None when it passes), with ``Hint:`` lines for every
    catalogued mistake whose answer ``actual`` reproduces."""
    found = problems(kind, request, expected, actual)
    if not found:
        return None
    lines = [f"Called: {describe_call(request)}" if kind != "api" else f"Checked: {request['target']}"]
    lines += found
    if actual.get("ok") and not actual.get("forbidden"):
        seen = []
        for hint, response in mistakes:
            if hint not in seen and agrees(kind, request, response, actual) \
                    and not agrees(kind, request, expected, response):
                seen.append(hint)
        lines += [f"Hint: {hint}" for hint in seen]
    return "\n".join(lines)
