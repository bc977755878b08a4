"""What a failure depends on: the findings of the factor diagnosis, and the loop that asks for them.

A *finding* says that a failing call, re-asked with one documented factor of its input changed
(``bias=False`` instead of ``True``, float32 instead of float64, no mask...), is answered right:
the failure depends on that factor. The variants and the reference's answers to them are made
where the reference is (:mod:`dlgrade.grading.diagnosis`, and recorded with the students' public
checks); this module needs neither: it asks a submission the variants of a failing check
(:func:`findings`) and words each finding in the student's language (:meth:`Finding.hint`, the
``factor.*`` messages). The hidden graders and the students' checks both use it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dlgrade.exposed import wire
from dlgrade.judging import feedback
from dlgrade.judging.i18n import Messages

DIAGNOSED_KINDS = ("shapes", "values", "gradients")
# answers of code that ran and came back wrong or raised: worth diagnosing (a worker that broke,
# stalled or was stopped is not asked again)
_RAN = (wire.Where.BUILDING, wire.Where.CALLING, wire.Where.GRADIENTS, wire.Where.RETURNING)


@dataclass(frozen=True)
class Finding:
    """A factor whose change flips the verdict: the failing call had form ``was``; the same call
    with form ``now`` is answered right."""

    factor: str
    was: str
    now: str

    @property
    def id(self) -> str:
        """``factor:was->now``, as results.json keeps it (:meth:`from_id` reads it back)."""
        return f"{self.factor}:{self.was}->{self.now}"

    @classmethod
    def from_id(cls, finding_id: str) -> Finding:
        """The finding whose :attr:`id` is ``finding_id``; ValueError for any other text."""
        factor, sep, change = finding_id.partition(":")
        was, arrow, now = change.partition("->")
        if not (factor and sep and was and arrow and now):
            raise ValueError(f"not a factor finding: {finding_id!r}")
        return cls(factor, was, now)

    def hint(self, t: Messages) -> str:
        """The ``Hint:`` sentence: the most specific message there is for this change."""
        for key in (f"factor.{self.factor}.{self.was}>{self.now}", f"factor.{self.factor}.{self.was}",
                    f"factor.{self.factor}"):
            if t.has(key):
                return t(key, was=self.was, now=self.now)
        return t("factor.generic", factor=self.factor, was=self.was, now=self.now)


def worth_diagnosing(kind: str, actual: dict) -> bool:
    """Whether a failing answer is one the diagnosis can say more about: a call whose code ran and
    came back wrong, or raised (not a forbidden call, nor a worker that broke)."""
    if kind not in DIAGNOSED_KINDS or actual.get("forbidden"):
        return False
    return bool(actual.get("ok")) or actual.get("where") in _RAN


def _precision_lost(kind: str, request: dict, expected: dict, actual: dict) -> bool:
    """Whether a float64 answer that float32 would pass fails as float32 code does: it raised,
    has the wrong dtype or structure, or is right to float32's tolerance (not to float64's). A
    wrong answer that float32's looser tolerance merely hides is not a float32 problem."""
    if not actual.get("ok") or not feedback.agrees("shapes", request, expected, actual):
        return True
    return feedback.agrees(kind, {**request, "dtype": "float32"}, expected, actual)


# findings that hold only when the failing answer also looks like what they say
_CONFIRM: dict[str, Callable[[str, dict, dict, dict], bool]] = {"dtype:float64->float32": _precision_lost}


REPEAT = Finding("repeat", "first call", "same call again")  # the same call answered differently


def again(request: dict) -> dict:
    """``request`` once more, with another seed for the random generator (which every call
    starts from, so code that draws random numbers answers otherwise)."""
    return {**request, "seed": int(request.get("seed", 0)) + 1}


def _varies(kind: str, request: dict, expected: dict, actual: dict, ask: Callable[[dict], dict]) -> bool:
    """Whether the same call, asked again from another seed, is answered otherwise (dropout,
    torch.rand...): asked only of an answer of the right structure, which is then what the
    second must equal."""
    if not actual.get("ok") or not feedback.agrees("shapes", request, expected, actual):
        return False
    second = ask(again(request))
    if not second.get("ok"):
        return False
    try:
        return not feedback.agrees("values", request, actual, second)
    except Exception:  # the first answer is the student's: anything it holds that we cannot compare
        return False


def findings(kind: str, variants: Iterable[tuple[Finding, dict, dict]], request: dict, expected: dict,
             actual: dict, ask: Callable[[dict], dict]) -> list[Finding]:
    """The findings of a failing check of ``kind`` on ``request`` (the reference's answer
    ``expected``, the submission's ``actual``): each variant ``(finding, its request, the
    reference's answer)`` that ``ask`` (the submission) answers right, the first of each factor
    (a factor's variants come most telling first). Nothing is asked when the answer is not worth
    diagnosing, and nothing more once the worker broke or stalled."""
    if not worth_diagnosing(kind, actual):
        return []
    if _varies(kind, request, expected, actual, ask):
        return [REPEAT]  # a random answer: nothing else it does can be told apart
    found: list[Finding] = []
    for finding, variant, variant_expected in variants:
        if any(f.factor == finding.factor for f in found):
            continue
        confirm = _CONFIRM.get(finding.id)
        if confirm is not None and not confirm(kind, request, expected, actual):
            continue
        answer = ask(variant)
        if not answer.get("ok") and answer.get("where") == wire.Where.RUNNING:
            break  # the worker broke or stalled: ask it nothing more
        if feedback.agrees(kind, variant, variant_expected, answer):
            found.append(finding)
    return found
