"""``dlgrade selftest`` and ``dlgrade generate``; and, for ``check`` in a full install, the
repository's public checks of a file that has none beside it."""
from __future__ import annotations

import argparse
from pathlib import Path

from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment
from dlgrade.errors import UsageError


def assignments(name: str | None) -> list[Assignment]:
    """The assignment ``name``, or every one."""
    return [get_assignment(n) for n in ([name] if name else ASSIGNMENTS)]


def repository_checks(module: str, path: Path, named: bool) -> Path:
    """The committed public checks of ``module`` (``student_template/<module>/``); ``named``:
    whether ``--assignment`` gave the name (else it is the file's)."""
    if module not in ASSIGNMENTS:
        if named:
            raise UsageError(f"unknown assignment {module!r} (one of: {', '.join(ASSIGNMENTS)})")
        raise UsageError(f"no {module}_checks.json next to {path.name}; name the assignment "
                         f"with --assignment ({', '.join(ASSIGNMENTS)})")
    assignment = get_assignment(module)
    return assignment.template_dir / assignment.checks_filename


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``selftest`` and ``generate``; let ``check`` fall back to the repository's checks."""
    if "check" in sub.choices:
        sub.choices["check"].set_defaults(checks_fallback=repository_checks)

    p = sub.add_parser("selftest", help="grade the reference, the stubs and every catalogued mistake")
    p.add_argument("--assignment", help="only this assignment")
    p.set_defaults(func=cmd_selftest)

    p = sub.add_parser("generate", help="regenerate student_template/ from solutions/")
    p.add_argument("--assignment", help="only this assignment")
    p.add_argument("--out", help="write here instead of student_template/")
    p.set_defaults(func=cmd_generate)


def cmd_selftest(args: argparse.Namespace) -> int:
    from dlgrade.authoring.selftest import report, selftest
    from dlgrade.batch.tables import show

    rows = [row for a in assignments(args.assignment) for row in selftest(a)]
    show(*report(rows))
    return 0 if all(r.ok for r in rows) else 1


def cmd_generate(args: argparse.Namespace) -> int:
    from dlgrade.authoring.generate import generate

    for assignment in assignments(args.assignment):
        for path in generate(assignment, Path(args.out) / assignment.name if args.out else None):
            print(f"wrote {path}")
    return 0
