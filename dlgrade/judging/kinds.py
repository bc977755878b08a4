"""The kinds of check a grader makes, one class each: what it compares and how it words a failure.

A kind turns a request, the reference's answer and a submission's answer into the problems it
finds (none: the check passes). ``api`` inspects names and signatures; the others call the
student's code (:class:`CallCheck`) and compare the output's structure (``shapes``), its values
(``values``), gradients (``gradients``) or the inputs after the call (``unchanged``).

Everything in an answer may come from the student (their code can take its worker over): what
of it a problem shows is quoted or escaped (:mod:`dlgrade.judging.student_text`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import torch

from dlgrade.exposed import execute, wire
from dlgrade.judging.compare import compare_tree, grad_problem, same_tensor
from dlgrade.judging.describe import describe_call, input_leaf_names
from dlgrade.judging.i18n import Messages
from dlgrade.judging.student_text import inline, quote


class CheckKind:
    """A kind of check (subclasses say what it compares)."""

    name: ClassVar[str]
    calls: ClassVar[bool] = True  # whether the check calls the student's code (else it inspects it)

    def problems(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        """Everything wrong with ``actual``, one sentence each, most telling first."""
        raise NotImplementedError

    def headline(self, request: dict, t: Messages) -> str:
        """The first line of a failure: what was checked."""
        return t("feedback.called", call=describe_call(request, t))


class ApiCheck(CheckKind):
    """The target exists with the handed-out signature (a class with its method, or a function)."""

    name = "api"
    calls = False

    def headline(self, request: dict, t: Messages) -> str:
        return t("feedback.checked", target=request["target"])

    def problems(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        target = request["target"]
        if not actual.get("ok"):
            yield _error(actual, t) if actual.get("error") else t("feedback.cannot_inspect")
            return
        if actual.get("kind") == wire.TargetKind.MISSING:
            yield t("feedback.not_defined", target=target)
            return
        if actual.get("kind") != expected.get("kind"):
            yield t("feedback.wrong_kind", target=target, expected=_kind(expected.get("kind"), t),
                    got=_kind(actual.get("kind"), t))
            return
        labels = [("init", f"{target}.__init__"), ("method", f"{target}.{request.get('method')}"),
                  ("signature", target)]
        for key, label in labels:
            if key in expected and actual.get(key) != expected[key]:
                want = ", ".join(expected[key] or [])
                got = t("feedback.signature_missing") if actual.get(key) is None \
                    else "(" + inline(_names(actual[key]), t=t) + ")"
                yield t("feedback.wrong_signature", label=label, expected=want, got=got)
        if expected.get("is_module") and not actual.get("is_module"):
            yield t("feedback.not_a_module", target=target)


def _names(value: Any) -> str:
    """A list of names as the student's answer gives it (any value: the answer may be forged)."""
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _error(actual: dict, t: Messages) -> str:
    """An error answer's problem: where it happened (ours), then its message, quoted. A failure
    while running (the worker timed out, died, was stopped) is said by a message of the worker
    client's own that already tells what was going on: no "while ..." is added to it."""
    where = str(actual.get("where", wire.Where.RUNNING))
    text = str(actual.get("error", "failed"))
    error = quote(text, t=t)
    said = t("feedback.error", error=error) if where == wire.Where.RUNNING else \
        t("feedback.error_while", error=error, where=inline(t.where(where), t=t))
    return said + ("\n" + t("feedback.no_gpu") if _DEVICE_ERRORS.search(text) else "")


# what torch says when code asks for a GPU where there is none, or mixes devices: code written
# for Colab's GPU (.cuda(), device="cuda") graded on a CPU
_DEVICE_ERRORS = re.compile(
    r"Torch not compiled with CUDA enabled|Found no NVIDIA driver|No CUDA GPUs are available|"
    r"CUDA driver initialization failed|Cannot access accelerator device|"
    r"Expected all tensors to be on the same device|Cannot re-initialize CUDA")


def _kind(kind: Any, t: Messages) -> str:
    return t(f"kind.{kind}") if kind in (wire.TargetKind.CLASS, wire.TargetKind.FUNCTION) else t("kind.other")


class CallCheck(CheckKind):
    """A check that calls the student's code: a forbidden call or an error fails it first (both
    are said when both happened: what came back is part of the story)."""

    def problems(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        forbidden = actual.get("forbidden")
        if forbidden:
            yield t("feedback.forbidden", used=inline(_names(forbidden), t=t))
        if not actual.get("ok"):
            yield _error(actual, t)
        elif not forbidden:
            yield from self.compare(request, expected, actual, t)

    def compare(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        """The problems of an answer that came back."""
        raise NotImplementedError

    @staticmethod
    def output_problems(request: dict, expected: dict, actual: dict, t: Messages, values: bool) -> Iterator[str]:
        labels = request.get("labels", {}).get("out")
        return compare_tree(expected["out"], actual["out"], labels, "output", request.get("dtype", "float32"),
                            values, t)


class ShapesCheck(CallCheck):
    """The output has the reference's structure, shapes and dtypes."""

    name = "shapes"

    def compare(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        return self.output_problems(request, expected, actual, t, values=False)


class ValuesCheck(CallCheck):
    """The output matches the reference's values within the dtype's tolerance."""

    name = "values"

    def compare(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        return self.output_problems(request, expected, actual, t, values=True)


class GradientsCheck(CallCheck):
    """Gradients w.r.t. every floating input and every parameter match the reference's."""

    name = "gradients"

    def compare(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        structure = list(self.output_problems(request, expected, actual, t, values=False))
        if structure:
            yield from structure
            return
        dtype = request.get("dtype", "float32")
        exp_g, act_g = expected["grads"], actual.get("grads") or {}
        names = input_leaf_names(request)
        got_inputs = act_g.get("inputs") or []
        # a gradient where the expected answer has none is a difference too (the answer of a
        # mistake that detaches everything must not agree with every answer of the right shape)
        for i, exp in enumerate(exp_g["inputs"]):
            got = got_inputs[i] if i < len(got_inputs) else None
            name = t("feedback.grad_input", name=names[i])
            if exp is not None:
                yield from grad_problem(exp, got, name, dtype, t)
            elif got is not None:
                yield t("feedback.grad_unexpected", name=name)
        for pname, exp in exp_g["params"].items():
            got = (act_g.get("params") or {}).get(pname)
            name = t("feedback.grad_param", name=pname)
            if exp is not None:
                yield from grad_problem(exp, got, name, dtype, t)
            elif got is not None:
                yield t("feedback.grad_unexpected", name=name)


class UnchangedCheck(CallCheck):
    """The call leaves its input tensors as they were."""

    name = "unchanged"

    def compare(self, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
        names = input_leaf_names(request)
        sent = execute.leaves([request.get("args", []), request.get("kwargs", {})])
        after = actual.get("inputs_after")
        if not isinstance(after, list) or len(after) != len(sent):
            yield t("feedback.inputs_unknown")
            return
        # what the expected answer left: the reference, what was sent; a catalogued mistake, its
        # own in-place changes (so that an answer making the same ones agrees with it: its hint)
        left = expected.get("inputs_after")
        if not isinstance(left, list) or len(left) != len(sent):
            left = sent
        for name, before, now, want in zip(names, sent, after, left):
            if not same_tensor(before, now) and not (isinstance(want, torch.Tensor) and same_tensor(want, now)):
                yield t("feedback.input_modified", name=name)


KINDS: dict[str, CheckKind] = {kind.name: kind() for kind in
                               (ApiCheck, ShapesCheck, ValuesCheck, GradientsCheck, UnchangedCheck)}


def kind_of(name: str) -> CheckKind:
    """The check kind called ``name``; ValueError for any other."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown check kind {name!r}") from None
