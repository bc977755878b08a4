"""Students' local checks: replay the public graders against precomputed expected answers.

The handout ships ``<assignment>_checks.json``, recorded from the reference by ``dlgrade
generate``: its language, for every public grader its name, points and checks (request, expected
answer, and the answers of catalogued mistakes by id), and the hints of those mistakes (the
``Hint:`` lines). Nothing here needs the reference. Messages are in the file's language.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlgrade.exposed import execute, tensorio, wire
from dlgrade.judging import feedback
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS, Messages


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


def load_checks(path: Path) -> dict:
    """Read a public checks file; anything malformed raises :class:`ChecksFileError`."""
    path = Path(path)
    if not path.is_file():
        raise ChecksFileError(f"{path} is not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("assignment"), str):
            raise ValueError("no assignment name")
        data["tests"] = tensorio.from_json(data["tests"])
        data.setdefault("lang", DEFAULT_LANG)
        if data["lang"] not in LANGS:
            raise ValueError(f"unknown language {data['lang']!r}")
        hints = data.setdefault("hints", {})
        if not isinstance(hints, dict) or not all(isinstance(h, str) for h in hints.values()):
            raise ValueError("hints must map mistake ids to text")
        for test in data["tests"]:
            for check in test["checks"]:
                if check["kind"] not in feedback.KINDS or not isinstance(check["request"], dict):
                    raise ValueError("unknown check")
                if any(mistake_id not in hints for mistake_id, _ in check["mistakes"]):
                    raise ValueError("a check names a mistake without a hint")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ChecksFileError(f"{path.name} is not a valid checks file ({type(exc).__name__}: {exc})") from None
    if not data["tests"]:
        raise ChecksFileError(f"{path.name} holds no checks")
    return data


def run_checks(data: Mapping[str, Any], target: Callable[[dict], dict],
               only: str | None = None) -> list[CheckResult]:
    """Run every recorded public grader (or those for target ``only``) against ``target``."""
    lang, hints = data.get("lang", DEFAULT_LANG), data.get("hints", {})
    results = []
    for test in data["tests"]:
        if only is not None and not any(c["request"]["target"] == only for c in test["checks"]):
            continue
        message = None
        for check in test["checks"]:
            try:
                actual = target(check["request"])
            except Exception as exc:  # the worker died or timed out: report it like a failure
                actual = wire.error_answer(wire.Where.RUNNING, str(exc))
            mistakes = [(hints[mistake_id], response) for mistake_id, response in check["mistakes"]]
            message = feedback.feedback(check["kind"], check["request"], check["expected"], actual, mistakes, lang)
            if message is not None:
                break
        results.append(CheckResult(test["name"], test["points"], message))
    return results


def format_report(results: list[CheckResult], lang: str = DEFAULT_LANG) -> str:
    """One line per check (with its feedback when it fails) and a summary line, in ``lang``."""
    t = Messages(lang)
    lines = []
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        lines.append(t("checks.line", mark=mark, name=result.name, points=f"{result.points:g}"))
        if result.message:
            lines += ["    " + line for line in result.message.splitlines()]
    lines.append(t("checks.summary", passed=sum(r.passed for r in results), total=len(results)))
    return "\n".join(lines)


def find_checks_file(module_name: str, start: Path | None = None) -> Path:
    """``<module>_checks.json`` in ``start`` (default: the current folder)."""
    path = (start or Path.cwd()) / f"{module_name}_checks.json"
    if not path.exists():
        raise FileNotFoundError(f"{path.name} not found in {path.parent}: keep it next to your notebook")
    return path


def check(target: str, namespace: Mapping[str, Any], checks_file: str | Path | None = None) -> bool:
    """Notebook check cell: run the public checks for ``target`` on the notebook's own objects."""
    data = load_checks(Path(checks_file) if checks_file else _guess_checks_file())
    forbidden = data.get("forbidden", {})
    results = run_checks(data, lambda request: execute.run(namespace, request, forbidden), only=target)
    print(format_report(results, data["lang"]))
    return all(r.passed for r in results)


def _guess_checks_file() -> Path:
    found = sorted(Path.cwd().glob("*_checks.json"))
    if len(found) != 1:
        raise FileNotFoundError("expected exactly one *_checks.json next to the notebook")
    return found[0]
