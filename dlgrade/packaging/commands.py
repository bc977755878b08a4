"""``dlgrade build``: student.zip, autograder.zip and solutions.zip per assignment."""
from __future__ import annotations

import argparse
from pathlib import Path

from dlgrade.authoring.commands import assignments
from dlgrade.cli import creatable_folder
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``build``."""
    p = sub.add_parser("build", help="write student.zip, autograder.zip (Otter) and solutions.zip per assignment")
    p.add_argument("--out", required=True,
                   help="output folder: DIR/<assignment>/... in English, DIR/<lang>/<assignment>/... in another language")
    p.add_argument("--assignment", help="only this assignment")
    p.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG,
                   help="language of the handout, its checks and the Gradescope feedback (default: en)")
    p.set_defaults(func=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    from dlgrade.packaging.course import build

    chosen = assignments(args.assignment)  # every argument checked before any work
    out = creatable_folder(Path(args.out))
    for assignment in chosen:
        for path in build(assignment, out, args.lang):
            print(f"wrote {path}")
    return 0
