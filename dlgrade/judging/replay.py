"""A grader test as recorded against the reference, and the one loop that replays it.

Graders run once, against the reference; what each test checked is a :class:`RecordedTest`: its
name, points and visibility, and its :class:`RecordedCheck`\\ s in order (a kind, the concrete
request, the reference's answer and, for the students' local checks, the catalogued mistakes'
answers). Replaying a test against a submission (:func:`first_failure`) asks the submission's
answer to each check in turn; the first failing check's feedback is the test's. The hidden
graders (:mod:`dlgrade.grading.scoring`) and the students' checks (:mod:`dlgrade.handout.checks`)
both replay with it. Records are plain data (:meth:`RecordedTest.to_plain`), which is how the
public ones travel in ``<assignment>_checks.json``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dlgrade.exposed import wire

PUBLIC = "visible"  # Gradescope's visibility of a public test
HIDDEN = "after_published"  # ... and of a hidden one


@dataclass(frozen=True)
class RecordedCheck:
    """One check: a kind (:data:`dlgrade.judging.kinds.KINDS`), the request and the reference's
    answer; ``mistakes`` holds ``(mistake id, answer)`` of catalogued mistakes and ``variants``
    ``(factor finding id, request, the reference's answer)`` of the same call with one input
    factor changed (:mod:`dlgrade.judging.diagnosis`); both are recorded only for the students'
    checks, None otherwise (the hidden graders make them when a check fails)."""

    kind: str
    request: dict
    expected: dict
    mistakes: tuple[tuple[str, dict], ...] | None = None
    variants: tuple[tuple[str, dict, dict], ...] | None = None

    def to_plain(self) -> dict:
        plain = {"kind": self.kind, "request": self.request, "expected": self.expected}
        if self.mistakes is not None:
            plain["mistakes"] = [list(m) for m in self.mistakes]
        if self.variants:
            plain["variants"] = [list(v) for v in self.variants]
        return plain

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any]) -> RecordedCheck:
        """The check ``plain`` holds; raises KeyError/TypeError/ValueError when it holds none."""
        if not isinstance(plain["kind"], str) or not isinstance(plain["request"], dict) \
                or not isinstance(plain["expected"], dict):
            raise ValueError("a check needs a kind, a request and an expected answer")
        mistakes = plain.get("mistakes")
        if mistakes is not None:
            mistakes = tuple((str(m), answer) for m, answer in mistakes)
            if not all(isinstance(answer, dict) for _, answer in mistakes):
                raise ValueError("a mistake's answer must be a dict")
        variants = plain.get("variants")
        if variants is not None:
            variants = tuple((str(f), request, answer) for f, request, answer in variants)
            if not all(isinstance(request, dict) and isinstance(answer, dict) for _, request, answer in variants):
                raise ValueError("a variant needs a request and an answer")
        return cls(plain["kind"], plain["request"], plain["expected"], mistakes, variants)


@dataclass
class RecordedTest:
    """One grader test: its pytest node id, name, points, visibility and checks in order.
    ``error`` is set when the grader itself failed (every submission then gets that message and
    0 points)."""

    nodeid: str
    name: str
    points: float
    visibility: str = PUBLIC
    checks: list[RecordedCheck] = field(default_factory=list)
    error: str | None = None

    def to_plain(self) -> dict:
        """What the students' checks file holds for a public test."""
        return {"name": self.name, "nodeid": self.nodeid, "points": self.points,
                "checks": [c.to_plain() for c in self.checks]}

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any]) -> RecordedTest:
        """The public test ``plain`` holds; raises KeyError/TypeError/ValueError when it holds none."""
        if not isinstance(plain["name"], str) or not isinstance(plain["checks"], list):
            raise ValueError("a test needs a name and a list of checks")
        return cls(str(plain.get("nodeid", "")), plain["name"], float(plain["points"]), PUBLIC,
                   [RecordedCheck.from_plain(c) for c in plain["checks"]])


Ask = Callable[[dict], wire.Answer]
Verdict = TypeVar("Verdict")  # what a judge says of a failing check: its feedback, or more
Judge = Callable[[RecordedCheck, wire.Answer], "Verdict | None"]


def first_failure(checks: Iterable[RecordedCheck], ask: Ask, judge: Judge[Verdict]) -> Verdict | None:
    """What ``judge`` says of the first check whose answer (``ask(request)``) it fails, or None
    when every check passes. Later checks are not asked."""
    for check in checks:
        verdict = judge(check, ask(check.request))
        if verdict is not None:
            return verdict
    return None


def requests_in_order(tests: Iterable[RecordedTest]) -> list[dict]:
    """Every check's request, in the order replaying the tests asks them."""
    return [check.request for test in tests for check in test.checks]
