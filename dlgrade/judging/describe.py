"""What a check called and what came back, in words: ``LSTMCell(input_size=5, ...) in float32``.

Plain data in (requests and answers, see :mod:`dlgrade.exposed.wire`), short text out; the
names of a call's inputs and outputs come from the request's ``labels``. A description is always
one line: what an answer holds (strings, dict keys, type names) is the student's, so it is shown
escaped (``repr``); its length is capped where it is shown
(:func:`dlgrade.judging.student_text.inline`).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from dlgrade.exposed.tensorio import Opaque
from dlgrade.judging.i18n import Messages


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
        return "{" + ", ".join(f"{_key(k)}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Opaque):
        name = value.type_name
        return f"<{name if isinstance(name, str) and name.isidentifier() else repr(name)} object>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return f"<{type(value).__name__} object>"


def _key(key: Any) -> str:
    """A dict key as a description shows it: a name as it is, anything else as ``repr``."""
    return key if isinstance(key, str) and key.isidentifier() else repr(key)


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


def named_leaves(value: Any, labels: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, leaf)`` for a nested value, naming leaves with ``labels`` where given."""
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            sub = labels[i] if isinstance(labels, (tuple, list)) and i < len(labels) else None
            name = sub if isinstance(sub, str) else f"{prefix}[{i}]"
            yield from named_leaves(v, sub if isinstance(sub, (tuple, list)) else None, name)
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
