"""``dlgrade check``: the student's command (the only one a handout offers).

Everything that can be wrong with the command line (no such file, an unreadable one, an unknown
assignment) is said before the worker starts. Then, in this order: what went wrong while the
code loaded (once, with its line), each check's result as soon as it is known, the summary.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dlgrade.cli import positive_seconds
from dlgrade.errors import UsageError, WorkerError
from dlgrade.supervisor.policy import POLICY

if TYPE_CHECKING:
    from dlgrade.judging.i18n import Messages
    from dlgrade.supervisor.client import WorkerClient

# (module name, the student's file, whether --assignment named it) -> a checks file elsewhere, for
# a file with none beside it; a full install sets one (the repository's student_template/, see
# dlgrade.authoring.commands)
ChecksFallback = Callable[[str, Path, bool], Path]

CHECKS_SUFFIX = "_checks.json"


def checks_beside(path: Path) -> list[str]:
    """The assignments whose public checks lie next to ``path``."""
    return sorted(p.name[: -len(CHECKS_SUFFIX)] for p in path.resolve().parent.glob(f"*{CHECKS_SUFFIX}"))


def _no_fallback(module: str, path: Path, named: bool) -> Path:
    here = checks_beside(path)
    if named:
        known = f"the checks next to {path.name} are for: {', '.join(here)}" if here else \
            f"there is no *{CHECKS_SUFFIX} next to {path.name}"
        raise UsageError(f"unknown assignment {module!r}: {known}")
    raise UsageError(f"no {module}{CHECKS_SUFFIX} next to {path.name}; keep it next to your file or pass --checks")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``check`` to the command line."""
    p = sub.add_parser("check", help="run the public checks on your rnn.py / attention.py / .ipynb")
    p.add_argument("file", help="your .py or .ipynb file")
    p.add_argument("--assignment", help="assignment name (default: the file's name)")
    p.add_argument("--checks", help=f"public checks file (default: <assignment>{CHECKS_SUFFIX} next to the file)")
    p.add_argument("--timeout", type=positive_seconds, default=POLICY.call_timeout_s,
                   help=f"seconds allowed per call into your code (default: {POLICY.call_timeout_s:g})")
    p.set_defaults(func=cmd_check, checks_fallback=_no_fallback)


def readable_submission(path: Path) -> None:
    """:class:`UsageError` unless ``path`` is a ``.py`` or ``.ipynb`` file this user can read."""
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if path.suffix not in (".py", ".ipynb"):
        raise UsageError(f"{path.name}: expected a .py or .ipynb file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def cmd_check(args: argparse.Namespace) -> int:
    from dlgrade.supervisor.launcher import launch

    path = Path(args.file)
    readable_submission(path)
    checks_file = _checks_file(args, path)
    # start the worker before loading the checks: it imports torch while this process does the same
    launched = launch(path.resolve())
    try:
        return _check_with(args, path, checks_file, launched)
    finally:
        launched.stop()  # a no-op when the client already stopped it


def _checks_file(args: argparse.Namespace, path: Path) -> Path:
    """The checks file to use, which exists; :class:`UsageError` otherwise."""
    module = args.assignment or path.stem
    if args.checks:
        checks = Path(args.checks)
        if not checks.is_file():
            raise UsageError(f"no such checks file: {checks}")
        return checks
    found = path.resolve().parent / f"{module}{CHECKS_SUFFIX}"
    if found.is_file():
        return found
    here = checks_beside(path)
    if not args.assignment and len(here) == 1:  # a file named otherwise
        raise UsageError(f"no {module}{CHECKS_SUFFIX} next to {path.name}; the checks there are "
                         f"{here[0]}{CHECKS_SUFFIX}: add --assignment {here[0]}")
    checks = args.checks_fallback(module, path, bool(args.assignment))
    if not checks.is_file():
        raise UsageError(f"no such checks file: {checks}")
    return checks


def _check_with(args: argparse.Namespace, path: Path, checks_file: Path, launched) -> int:
    from dlgrade.handout.checks import ChecksFileError, format_result, format_summary, load_checks, run_checks
    from dlgrade.judging.i18n import Messages
    from dlgrade.judging.source_scan import scan_source, with_scan_findings
    from dlgrade.supervisor.client import WorkerClient
    from dlgrade.supervisor.submission import load_submission

    try:
        checks = load_checks(checks_file)
    except ChecksFileError as exc:
        raise UsageError(str(exc)) from None
    submission = load_submission(path, checks.assignment)
    if submission.problem:
        raise UsageError(submission.problem)
    scan = scan_source([(c.label, c.source) for c in submission.chunks], checks.forbidden)
    t = Messages(checks.lang)
    with WorkerClient(submission, checks.assignment, checks.forbidden, call_timeout=args.timeout,
                      launched=launched, lang=checks.lang) as client:
        print_load_problems(client, t)
        results = run_checks(checks, lambda request: with_scan_findings(request, client.request(request), scan),
                             on_result=lambda result: print(format_result(result, checks.lang), flush=True))
    print(format_summary(results, checks.lang))
    return 0 if all(r.passed for r in results) else 1


def print_load_problems(client: WorkerClient, t: Messages) -> None:
    """Load the code now and say, once and before any check, what went wrong while it loaded (each
    error with its line), or that it could not be loaded at all."""
    from dlgrade.judging.student_text import quote

    try:
        client.ensure_started()
    except WorkerError as exc:
        print(t("checks.not_loaded", error=exc), flush=True)
        return
    errors = client.load_errors()
    if errors:
        print(t("feedback.load_errors"))
        print(quote("\n".join(errors), t=t))
        print(t("checks.fix_load_first"), flush=True)
