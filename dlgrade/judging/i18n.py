"""Messages students read, in their handout's language.

Every sentence dlgrade shows a student -- check results, feedback, worker errors, the notebook's
fixed text, the handout's README -- is looked up by key in one catalogue per language,
:mod:`dlgrade.judging.messages.en` and :mod:`dlgrade.judging.messages.ko`, with ``str.format`` fields. Both
catalogues have the same keys and fields (a test fails otherwise). Instructor-facing output
(gradebook, report, command-line errors) stays in English.
"""
from __future__ import annotations

import importlib
import string
from functools import lru_cache

LANGS = ("en", "ko")
DEFAULT_LANG = "en"


class UnknownLanguage(ValueError):
    """A language with no catalogue."""


def require_lang(lang: str) -> str:
    """``lang`` if it has a catalogue; else :class:`UnknownLanguage`."""
    if lang not in LANGS:
        raise UnknownLanguage(f"unknown language {lang!r} (known: {', '.join(LANGS)})")
    return lang


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """The ``key -> message`` catalogue of ``lang``."""
    return importlib.import_module(f"dlgrade.judging.messages.{require_lang(lang)}").MESSAGES


def fields(message: str) -> set[str]:
    """The ``{field}`` names a message uses."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


class Messages:
    """The messages of one language: ``t = Messages("ko"); t("checks.summary", passed=1, total=2)``."""

    def __init__(self, lang: str = DEFAULT_LANG) -> None:
        self.lang = lang
        self._messages = catalogue(lang)

    def __call__(self, key: str, **params: object) -> str:
        return self._messages[key].format(**params)

    def has(self, key: str) -> bool:
        """Whether this language has a message ``key``."""
        return key in self._messages

    def where(self, doing: str) -> str:
        """A short "while ..." phrase (``building``, ``calling``, ...) in this language; text
        that is not a known phrase is returned as it is."""
        return self._messages.get(f"where.{doing}", doing)
