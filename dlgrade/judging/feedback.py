"""Compare a student's answer with the expected one and say, in words, what differs.

Used by the hidden graders and by the students' local checks alike, so both print the same
messages. Everything here works on plain data (see :mod:`dlgrade.exposed.wire`); nothing here
needs the reference solution. What each kind of check compares is in :mod:`dlgrade.judging.kinds`.
Text the answer carries (an error, names) is quoted and capped there
(:mod:`dlgrade.judging.student_text`): only the headline, the problems' sentences and the
catalogue's ``Hint:`` lines start a line.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dlgrade.judging.compare import TOLERANCES, value_problem
from dlgrade.judging.describe import describe, describe_call
from dlgrade.judging.i18n import DEFAULT_LANG, Messages
from dlgrade.judging.kinds import KINDS, kind_of

__all__ = ["KINDS", "TOLERANCES", "Verdict", "agrees", "assess", "describe", "describe_call", "feedback", "problems",
           "value_problem"]

_ENGLISH = Messages()  # whether a check passes does not depend on the language of its messages


def _problems(kind: str, request: dict, expected: dict, actual: dict, t: Messages) -> Iterator[str]:
    return kind_of(kind).problems(request, expected, actual, t)


def problems(kind: str, request: dict, expected: dict, actual: dict, lang: str = DEFAULT_LANG) -> list[str]:
    """Everything wrong with ``actual`` for a check of ``kind``; empty when it passes."""
    return list(_problems(kind, request, expected, actual, Messages(lang)))


def agrees(kind: str, request: dict, expected: dict, actual: dict) -> bool:
    """Whether a check of ``kind`` finds nothing wrong (stops at the first problem)."""
    return next(_problems(kind, request, expected, actual, _ENGLISH), None) is None


@dataclass(frozen=True)
class Verdict:
    """A failing check: its message, the ids of the catalogued mistakes the answer reproduces
    (whose hints the message gives, in the order given) and the factors the failure depends on
    (``name:was>now``, see :mod:`dlgrade.grading.diagnosis`), whose hints follow."""

    message: str
    mistakes: tuple[str, ...] = ()
    factors: tuple[str, ...] = ()


# a catalogued mistake: (id, hint, its answer); a (hint, answer) pair is a mistake whose id is its hint
Mistake = tuple[str, str, dict] | tuple[str, dict]


def assess(kind: str, request: dict, expected: dict, actual: dict,
           mistakes: Iterable[Mistake] = (), lang: str = DEFAULT_LANG) -> Verdict | None:
    """The verdict on a check's answer (None when it passes), in ``lang``: what was checked, what
    is wrong, and a ``Hint:`` line for every catalogued mistake (``(id, hint, answer)``) whose
    answer ``actual`` reproduces (each hint once), with those mistakes' ids."""
    t = Messages(lang)
    check = kind_of(kind)
    found = list(check.problems(request, expected, actual, t))
    if not found:
        return None
    lines = [check.headline(request, t), *found]
    ids: list[str] = []
    if actual.get("ok") and not actual.get("forbidden"):
        hints: list[str] = []
        for mistake in mistakes:
            mistake_id, hint, response = mistake if len(mistake) == 3 else (mistake[0], *mistake)
            if mistake_id not in ids and agrees(kind, request, response, actual) \
                    and not agrees(kind, request, expected, response):
                ids.append(mistake_id)
                if hint not in hints:
                    hints.append(hint)
        lines += [t("feedback.hint", hint=hint) for hint in hints]
    return Verdict("\n".join(lines), tuple(ids))


def feedback(kind: str, request: dict, expected: dict, actual: dict,
             mistakes: Iterable[Mistake] = (), lang: str = DEFAULT_LANG) -> str | None:
    """The message of :func:`assess` (None when the check passes)."""
    verdict = assess(kind, request, expected, actual, mistakes, lang)
    return None if verdict is None else verdict.message
