"""An assignment's student-facing text, in English or in a translation.

The English text lives where it is written: the title, intro and questions in
``assignments/<a>/assignment.py``, the hints in ``mistakes.py``, the test names in the graders'
docstrings, the ``# TODO:`` comments and the module docstring in the reference. A translation is
one file per language, ``assignments/<a>/<lang>.toml``, keyed by what it translates::

    title = "..."
    intro = \"\"\"...\"\"\"
    module_doc = \"\"\"...\"\"\"            # the reference's module docstring
    [questions.<target>]                   # title, instructions
    [hints]       <mistake id> = "..."
    [tests]       <grader function> = "..."
    [todo]        "<Class.method>" = ["one string per # TODO: item", ...]

:func:`translation_problems` lists every key missing or left over against the English (a test
runs it for every assignment and language).
"""
from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dlgrade.authoring.registry import Assignment, Question
from dlgrade.authoring.template import todo_comments
from dlgrade.errors import UsageError
from dlgrade.judging.i18n import DEFAULT_LANG, require_lang


@dataclass(frozen=True)
class AssignmentText:
    """What students read of one assignment, in one language."""

    lang: str
    title: str
    intro: str
    module_doc: str
    questions: dict[str, Question]
    hints: dict[str, str]
    tests: dict[str, str]
    todo: dict[str, list[str]] = field(default_factory=dict)


class TranslationError(UsageError):
    """A translation file is missing, malformed or does not match the English (a usage error:
    the instructor fixes the file)."""


def module_docstring(source: str) -> str:
    """The module docstring of ``source`` (empty when it has none)."""
    return ast.get_docstring(ast.parse(source), clean=False) or ""


def grader_names(graders_dir: Path) -> dict[str, str]:
    """``test function name -> first line of its docstring`` for every grader test."""
    names = {}
    for path in sorted(graders_dir.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                doc = (ast.get_docstring(node) or "").strip().splitlines()
                names[node.name] = doc[0].strip() if doc else node.name
    return names


def english_text(assignment: Assignment) -> AssignmentText:
    """The English text, read from the files that hold it."""
    spec, source = assignment.spec, assignment.solution_source
    return AssignmentText(
        lang="en", title=spec.TITLE, intro=spec.INTRO, module_doc=module_docstring(source),
        questions={q.target: q for q in assignment.questions},
        hints={m.id: m.hint for m in assignment.mistakes},
        tests=grader_names(assignment.graders_dir), todo=todo_comments(source))


def translation_path(assignment: Assignment, lang: str) -> Path:
    return assignment.spec_dir / f"{lang}.toml"


def _read_translation(assignment: Assignment, lang: str) -> dict:
    path = translation_path(assignment, lang)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranslationError(f"{assignment.name} has no {lang} translation ({path} is missing)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TranslationError(f"{path} cannot be read: {exc}") from None


def translation_problems(assignment: Assignment, lang: str) -> list[str]:
    """Every way ``assignments/<a>/<lang>.toml`` fails to match the English; empty when it does."""
    try:
        return _mismatches(english_text(assignment), _read_translation(assignment, lang))
    except TranslationError as exc:
        return [str(exc)]


def _mismatches(english: AssignmentText, data: dict) -> list[str]:
    """Every way the translation ``data`` fails to match ``english``."""
    problems = [f"missing {key!r}" for key in ("title", "intro", "module_doc")
                if not isinstance(data.get(key), str)]
    questions = data.get("questions", {})
    for target in english.questions:
        entry = questions.get(target, {})
        problems += [f"questions.{target}: missing {key!r}" for key in ("title", "instructions")
                     if not isinstance(entry.get(key), str)]
    sections = {"questions": set(english.questions), "hints": set(english.hints), "tests": set(english.tests),
                "todo": set(english.todo)}
    for section, wanted in sections.items():
        have = set(data.get(section, {}))
        problems += [f"{section}: missing {key!r}" for key in sorted(wanted - have)]
        problems += [f"{section}: {key!r} translates nothing in English" for key in sorted(have - wanted)]
    for section in ("hints", "tests"):
        problems += [f"{section}.{key}: not a string" for key, value in data.get(section, {}).items()
                     if not isinstance(value, str)]
    for name, items in english.todo.items():
        given = data.get("todo", {}).get(name)
        if given is not None and (not isinstance(given, list) or len(given) != len(items)
                                  or not all(isinstance(item, str) for item in given)):
            problems.append(f"todo.{name}: expected a list of {len(items)} strings (one per # TODO: item)")
    return problems


@lru_cache(maxsize=None)
def _translated(root: Path, name: str, lang: str) -> AssignmentText:
    assignment = Assignment(name, root)
    data = _read_translation(assignment, lang)
    english = english_text(assignment)
    problems = _mismatches(english, data)
    if problems:
        raise TranslationError(f"{translation_path(assignment, lang)}: " + "; ".join(problems))
    questions = {t: Question(t, data["questions"][t]["title"], data["questions"][t]["instructions"])
                 for t in english.questions}
    return AssignmentText(lang=lang, title=data["title"], intro=data["intro"], module_doc=data["module_doc"],
                          questions=questions, hints=dict(data["hints"]), tests=dict(data["tests"]),
                          todo={k: list(v) for k, v in data.get("todo", {}).items()})


def assignment_text(assignment: Assignment, lang: str = DEFAULT_LANG) -> AssignmentText:
    """The text of ``assignment`` in ``lang`` (a translation that does not match the English
    raises :class:`TranslationError`)."""
    if require_lang(lang) == DEFAULT_LANG:
        return english_text(assignment)
    return _translated(assignment.root, assignment.name, lang)
