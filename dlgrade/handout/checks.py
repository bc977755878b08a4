"""Students' local checks: replay the public graders against precomputed expected answers.

The handout ships ``<assignment>_checks.json``, recorded from the reference by ``dlgrade
generate``: its language, for every public grader a :class:`~dlgrade.judging.replay.RecordedTest`
(name, points and checks: request, expected answer, and the answers of catalogued mistakes by
id), and the hints of those mistakes (the ``Hint:`` lines). Nothing here needs the reference.
Messages are in the file's language. The feedback is the graders' (:mod:`dlgrade.judging.feedback`):
what the student's code said is quoted and capped there, under lines of ours.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlgrade.errors import WorkerTimeout
from dlgrade.exposed import execute, protocol, tensorio, wire
from dlgrade.judging import feedback
from dlgrade.judging.diagnosis import Finding, findings
from dlgrade.judging.i18n import DEFAULT_LANG, Messages, require_lang
from dlgrade.judging.kinds import kind_of
from dlgrade.judging.replay import RecordedCheck, RecordedTest, first_failure

FORMAT = 2  # the checks file's format number
CHECKS_ENV = "DLGRADE_CHECKS"  # the checks file a notebook's set-up cell unpacked (see dlgrade.authoring.setup_cell)


@dataclass
class CheckResult:
    """The outcome of one public grader."""

    name: str
    points: float
    message: str | None

    @property
    def passed(self) -> bool:
        return self.message is None


class ChecksFileError(ValueError):
    """A public checks file is missing, unreadable or not in the expected format."""


@dataclass(frozen=True)
class ChecksFile:
    """What ``<assignment>_checks.json`` holds."""

    assignment: str
    lang: str
    forbidden: dict[str, str]
    hints: dict[str, str]
    tests: list[RecordedTest]

    def to_json(self) -> str:
        """The file's text: compact JSON, tensors as base64 blobs (equal ones once); the same
        records give the same bytes."""
        data = {"assignment": self.assignment, "format": FORMAT, "lang": self.lang, "forbidden": self.forbidden,
                "hints": self.hints, "tests": tensorio.to_json([t.to_plain() for t in self.tests])}
        return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ChecksFile:
        """The checks ``text`` holds; KeyError/TypeError/ValueError/AttributeError when it holds none."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("assignment"), str):
            raise ValueError("no assignment name")
        hints = data.get("hints", {})
        if not isinstance(hints, dict) or not all(isinstance(h, str) for h in hints.values()):
            raise ValueError("hints must map mistake ids to text")
        forbidden = data.get("forbidden", {})
        if not isinstance(forbidden, dict):
            raise ValueError("forbidden must map names to labels")
        tests = [RecordedTest.from_plain(t) for t in tensorio.from_json(data["tests"])]
        for check in (c for test in tests for c in test.checks):
            kind_of(check.kind)
            if any(mistake_id not in hints for mistake_id, _ in check.mistakes or ()):
                raise ValueError("a check names a mistake without a hint")
            for finding, _, _ in check.variants or ():
                Finding.from_id(finding)  # ValueError for anything else
        return cls(data["assignment"], require_lang(data.get("lang", DEFAULT_LANG)), forbidden, hints, tests)


def load_checks(path: Path) -> ChecksFile:
    """Read a public checks file; anything malformed raises :class:`ChecksFileError`."""
    path = Path(path)
    if not path.is_file():
        raise ChecksFileError(f"{path} is not a file")
    try:
        checks = ChecksFile.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ChecksFileError(f"{path.name} is not a valid checks file ({type(exc).__name__}: {exc})") from None
    if not checks.tests:
        raise ChecksFileError(f"{path.name} holds no checks")
    return checks


def run_checks(checks: ChecksFile, target: Callable[[dict], wire.Answer],
               only: str | None = None, on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run every recorded public grader (or those for target ``only``) against ``target``;
    ``on_result`` hears each result as soon as it is known. Once a call into a function timed out,
    the later calls into it are not made (each would wait as long): they fail saying so."""
    t = Messages(checks.lang)
    timed_out: set[str] = set()

    def ask(request: dict) -> wire.Answer:
        name = str(request.get("target", ""))
        if name in timed_out:
            return wire.error_answer(wire.Where.RUNNING, t("checks.not_run_after_timeout", target=name))
        try:
            return target(request)
        except WorkerTimeout as exc:
            timed_out.add(name)
            return wire.error_answer(wire.Where.RUNNING, str(exc))
        except Exception as exc:  # the worker died: report it like a failure
            return wire.error_answer(wire.Where.RUNNING, str(exc))

    def judge(check: RecordedCheck, actual: wire.Answer) -> str | None:
        mistakes = [(mistake_id, checks.hints[mistake_id], answer) for mistake_id, answer in check.mistakes or ()]
        message = feedback.feedback(check.kind, check.request, check.expected, actual, mistakes, checks.lang)
        if message is None or not check.variants:
            return message
        variants = [(Finding.from_id(finding), request, answer) for finding, request, answer in check.variants]
        found = findings(check.kind, variants, check.request, check.expected, actual, ask)
        hints = dict.fromkeys(finding.hint(t) for finding in found)
        return "\n".join([message, *(t("feedback.hint", hint=hint) for hint in hints)])

    results = []
    for test in checks.tests:
        if only is None or any(c.request["target"] == only for c in test.checks):
            results.append(CheckResult(test.name, test.points, first_failure(test.checks, ask, judge)))
            if on_result is not None:
                on_result(results[-1])
    return results


def format_result(result: CheckResult, lang: str = DEFAULT_LANG) -> str:
    """A check's line, and its feedback (indented) when it fails, in ``lang``."""
    t = Messages(lang)
    mark = "PASS" if result.passed else "FAIL"
    lines = [t("checks.line", mark=mark, name=result.name, points=f"{result.points:g}")]
    lines += ["    " + line for line in (result.message or "").splitlines()]
    return "\n".join(lines)


def format_summary(results: list[CheckResult], lang: str = DEFAULT_LANG) -> str:
    """The last line: how many checks passed, in ``lang``."""
    return Messages(lang)("checks.summary", passed=sum(r.passed for r in results), total=len(results))


def format_report(results: list[CheckResult], lang: str = DEFAULT_LANG) -> str:
    """One line per check (with its feedback when it fails) and a summary line, in ``lang``."""
    return "\n".join([*(format_result(r, lang) for r in results), format_summary(results, lang)])


def check(target: str, namespace: Mapping[str, Any], checks_file: str | Path | None = None) -> None:
    """Notebook check cell: run the public checks for ``target`` on the notebook's own objects,
    printing each result as it comes. Returns nothing, so the cell shows no value after the report."""
    chosen = checks_file or os.environ.get(CHECKS_ENV)  # given, or unpacked by the set-up cell
    checks = load_checks(Path(chosen) if chosen else _guess_checks_file())
    results = run_checks(checks, lambda request: _asked(namespace, request, checks.forbidden), only=target,
                         on_result=lambda result: print(format_result(result, checks.lang), flush=True))
    print(format_summary(results, checks.lang))


def _asked(namespace: Mapping[str, Any], request: dict, forbidden: Mapping[str, str]) -> wire.Answer:
    """The notebook's answer to ``request`` as a worker's would come: plain tensors on the CPU,
    or an error saying why it cannot be read."""
    answer = execute.run(namespace, request, forbidden)
    try:
        return protocol.as_received(answer)
    except Exception as exc:  # what the code returned is the student's: anything can fail here
        return wire.error_answer(wire.Where.RETURNING, f"could not read the result: {exc}")


def _guess_checks_file() -> Path:
    found = sorted(Path.cwd().glob("*_checks.json"))
    if len(found) != 1:
        raise FileNotFoundError("expected exactly one *_checks.json next to the notebook")
    return found[0]
