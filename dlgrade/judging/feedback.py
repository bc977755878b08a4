"""Compare a student's answer with the expected one and say, in words, what differs.

Used by the hidden graders and by the students' local checks alike, so both print the same
messages. Everything here works on plain data (see :mod:`dlgrade.exposed.wire`); nothing here
needs the reference solution. What each kind of check compares is in :mod:`dlgrade.judging.kinds`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from dlgrade.judging.compare import TOLERANCES, value_problem
from dlgrade.judging.describe import describe, describe_call
from dlgrade.judging.i18n import DEFAULT_LANG, Messages
from dlgrade.judging.kinds import KINDS, kind_of

__all__ = ["KINDS", "TOLERANCES", "agrees", "describe", "describe_call", "feedback", "problems", "value_problem"]

_ENGLISH = Messages()  # whether a check passes does not depend on the language of its messages


def _problems(kind: str, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
    return kind_of(kind).problems(request, expected, actual, t)


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
    check = kind_of(kind)
    found = list(check.problems(request, expected, actual, t))
    if not found:
        return None
    lines = [check.headline(request, t), *found]
    if actual.get("ok") and not actual.get("forbidden"):
        seen: list[str] = []
        for hint, response in mistakes:
            if hint not in seen and agrees(kind, request, response, actual) \
                    and not agrees(kind, request, expected, response):
                seen.append(hint)
        lines += [t("feedback.hint", hint=hint) for hint in seen]
    return "\n".join(lines)
