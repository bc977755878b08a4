"""Tables the instructor's commands print (the score table, the self-test's), laid out by ``rich``.

``rich`` measures what a terminal shows, not characters: a Hangul or CJK character takes two
columns, so Korean names keep the columns straight. On a terminal a table is styled (bold
header, a rule under it); anywhere else (a pipe, a file, a CI log) it is plain text: no colour
codes, ASCII only, as wide as its content (never wrapped to 80 columns), no trailing spaces.
Cells are :class:`~rich.text.Text`, so text from students (``[bold]`` in a name) is shown as it
is, never read as markup.
"""
from __future__ import annotations

import sys
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

Part = Table | str

# a rule of '-' under the header and nothing else: columns apart by spaces
PLAIN_BOX = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
TERMINAL_BOX = box.SIMPLE_HEAD
PLAIN_WIDTH = 10_000  # wide enough for any row: plain text is never wrapped


def new_table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    """A table with these column headers; the ``right`` ones right-aligned (numbers)."""
    table = Table(box=PLAIN_BOX, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def add_row(table: Table, *cells: object) -> None:
    """A row of ``cells``, each shown as its ``str`` (never read as markup)."""
    table.add_row(*(Text(str(cell)) for cell in cells))


def _printable(part: Part, table_box: box.Box) -> Table | Text:
    if isinstance(part, Table):
        part.box = table_box
        return part
    return Text(part)


def render(*parts: Part) -> str:
    """``parts`` (tables, lines of text) as plain text, one after another."""
    console = Console(width=PLAIN_WIDTH, color_system=None, force_terminal=False, highlight=False,
                      emoji=False, markup=False)
    with console.capture() as captured:
        for part in parts:
            console.print(_printable(part, PLAIN_BOX))
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def show(*parts: Part, file: TextIO | None = None) -> None:
    """Print ``parts`` to ``file`` (stdout): styled for a terminal, else :func:`render`'s plain text."""
    stream = file if file is not None else sys.stdout
    if _isatty(stream):
        console = Console(file=stream, highlight=False, emoji=False, markup=False)
        for part in parts:
            console.print(_printable(part, TERMINAL_BOX))
    else:
        print(render(*parts), file=stream, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
