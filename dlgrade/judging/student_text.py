"""Text a submission controls, made safe to show: quoted, escaped and capped.

Whatever a student's code says -- an exception's message and line, a load error, a returned
value's names, a signature; and whatever its worker answers, since that code can take the worker
over -- reaches feedback only through :func:`quote` (a block: every line of it after
:data:`QUOTE`) or :func:`inline` (one escaped line inside a sentence of ours). So no line of
student origin can begin with something that reads as the grader's (``Hint:``, ``Score:``,
``passed``, a test's name). Both cap what they show and say how much they cut; :func:`cap` and
:func:`fit` bound a test's whole output and all the outputs of one ``results.json``.

The limits are here, in one place:

- :data:`STUDENT_TEXT_CHARS`: one quoted block (an error, the load errors), quote included;
- :data:`INLINE_CHARS`: student text on a line of ours (a name, a signature, a file name);
- :data:`TEST_OUTPUT_CHARS`: one test's whole output (ours and quoted text together);
- :data:`RESULTS_OUTPUT_BYTES`: every output of one results file together, as JSON text.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence

from dlgrade.judging.i18n import Messages

QUOTE = "  | "  # what every line of a student's text starts with
STUDENT_TEXT_CHARS = 2000
INLINE_CHARS = 300
TEST_OUTPUT_CHARS = 8000
RESULTS_OUTPUT_BYTES = 256 * 1024
NOTE_BYTES = 80  # room kept for a cut note ("[... 1,234,567 more characters cut]" in any language)

# where str.splitlines() ends a line (a superset of what browsers and editors break on)
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# bidirectional controls: they reorder what is shown, so they are shown as escapes
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# escaped in a quoted line (line breaks are gone by then): C0 and C1 controls but the tab, DEL
_IN_BLOCK = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
# escaped on one of our lines: the same plus every line break
_IN_LINE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_LINE_BREAK = re.compile(f"\r\n|[{LINE_BREAKS}]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
_ENGLISH = Messages()


def _escape(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _escaped(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: _escape(m.group()), text)


def _fitting(text: str, room: int, pattern: re.Pattern[str]) -> int:
    """How many characters of ``text`` fit in ``room`` characters once escaped."""
    if room <= 0:
        return 0
    if not pattern.search(text, 0, room):
        return min(room, len(text))
    used = 0
    for index, char in enumerate(text):
        used += len(_escape(char)) if pattern.match(char) else 1
        if used > room:
            return index
    return len(text)


def cut_note(count: int, t: Messages | None = None) -> str:
    """``[... 1,234 more characters cut]``, in the language of ``t``."""
    return (t or _ENGLISH)("feedback.cut", count=f"{count:,}")


def quote(text: object, limit: int = STUDENT_TEXT_CHARS, t: Messages | None = None) -> str:
    """``text`` as a block of lines each starting with :data:`QUOTE` (control characters
    escaped), at most ``limit`` characters; when cut, a line of ours after it says how much."""
    text = str(text)
    head = text[:limit]  # every character shows as one or more: no more is ever needed
    lines: list[str] = []
    used = shown = 0
    for raw in head.splitlines(keepends=True):
        content = raw.rstrip(LINE_BREAKS)
        line = (QUOTE + _escaped(content, _IN_BLOCK)) if content else QUOTE.rstrip()
        room = limit - used
        if len(line) <= room:
            lines.append(line)
            used += len(line) + 1
            shown += len(raw)
            continue
        keep = _fitting(content, room - len(QUOTE), _IN_BLOCK)
        if keep:
            lines.append(QUOTE + _escaped(content[:keep], _IN_BLOCK))
            shown += keep
        break
    block = "\n".join(lines) if lines else QUOTE.rstrip()
    if shown < len(text):
        block += "\n" + cut_note(len(text) - shown, t)
    return block


def inline(text: object, limit: int = INLINE_CHARS, t: Messages | None = None) -> str:
    """``text`` as part of one line of ours: line breaks and control characters escaped, at most
    ``limit`` characters, then how much was cut."""
    text = str(text)
    keep = _fitting(text[:limit], limit, _IN_LINE)
    shown = _escaped(text[:keep], _IN_LINE)
    return shown if keep == len(text) else f"{shown} {cut_note(len(text) - keep, t)}"


def heading(text: object, t: Messages | None = None) -> str:
    """Text of ours that may end in a student's (``rnn: <their file's name>``, a failure and its
    message): its first line escaped onto one line (:func:`inline`), any further lines quoted."""
    text = str(text)
    end = _LINE_BREAK.search(text)
    if end is None:
        return inline(text, t=t)
    rest = text[end.end():]
    return inline(text[:end.start()], t=t) + ("\n" + quote(rest, t=t) if rest else "")


def _at_line_end(text: str, keep: int) -> int:
    """``keep``, moved back to the end of a line when there is one before it (a cut never
    leaves the beginning of a line that could read as another line)."""
    end = text.rfind("\n", 0, keep + 1)
    return end if end > 0 else keep


def cap(text: str, limit: int = TEST_OUTPUT_CHARS, t: Messages | None = None) -> str:
    """``text`` (a whole output) cut at a line's end to at most about ``limit`` characters, and
    a line saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = _at_line_end(text, limit)
    return f"{text[:keep]}\n{cut_note(len(text) - keep, t)}"


def json_size(text: str) -> int:
    """The bytes ``text`` takes in a JSON file (as :func:`json.dumps` writes it, UTF-8)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def _prefix_within(text: str, size: int) -> int:
    """A number of characters of ``text`` whose JSON text takes at most ``size`` bytes."""
    keep = min(len(text), size)
    while keep > 0 and (took := json_size(text[:keep])) > size:
        keep = max(0, min(keep - 1, keep * size // took - 1))
    return keep


def fit(texts: Sequence[str], budget: int = RESULTS_OUTPUT_BYTES, t: Messages | None = None) -> list[str]:
    """``texts`` whose JSON text takes at most ``budget`` bytes together: when they take more, the
    longest are cut to one common size (each with a note saying how much) and the short ones
    stay whole."""
    sizes = [json_size(text) for text in texts]
    if sum(sizes) <= budget:
        return list(texts)

    def total(each: int) -> int:
        return sum(size if size <= each else each + NOTE_BYTES for size in sizes)

    low, high = 0, max(sizes)  # the largest size each text may keep
    while low < high:
        middle = (low + high + 1) // 2
        if total(middle) <= budget:
            low = middle
        else:
            high = middle - 1
    fitted = []
    for text, size in zip(texts, sizes):
        if size <= low:
            fitted.append(text)
            continue
        keep = _at_line_end(text, _prefix_within(text, low))
        note = cut_note(len(text) - keep, t)
        fitted.append(f"{text[:keep]}\n{note}" if keep else note)
    return fitted
