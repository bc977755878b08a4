"""``dlgrade check``: the student's command (the only one a handout offers)."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from dlgrade.errors import UsageError

# module name -> a checks file elsewhere, for a file with none beside it (None: no such place);
# a full install sets one (the repository's student_template/, see dlgrade.authoring.commands)
ChecksFallback = Callable[[str, Path], Path]


def _no_fallback(module: str, path: Path) -> Path:
    raise UsageError(f"no {module}_checks.json next to {path.name}; keep it next to your file or pass --checks")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``check`` to the command line."""
    p = sub.add_parser("check", help="run the public checks on your rnn.py / attention.py / .ipynb")
    p.add_argument("file", help="your .py or .ipynb file")
    p.add_argument("--assignment", help="assignment name (default: the file's name)")
    p.add_argument("--checks", help="public checks file (default: <assignment>_checks.json next to the file)")
    p.set_defaults(func=cmd_check, checks_fallback=_no_fallback)


def cmd_check(args: argparse.Namespace) -> int:
    from dlgrade.supervisor.launcher import launch

    path = Path(args.file)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if path.suffix not in (".py", ".ipynb"):
        raise UsageError(f"{path.name}: expected a .py or .ipynb file")
    # start the worker first: it imports torch while this process does the same
    launched = launch(path.resolve())
    try:
        return _check_with(args, path, launched)
    finally:
        launched.stop()  # a no-op when the client already stopped it


def _checks_file(args: argparse.Namespace, path: Path) -> Path:
    from dlgrade.handout.checks import find_checks_file

    module = args.assignment or path.stem
    if args.checks:
        return Path(args.checks)
    try:
        return find_checks_file(module, path.resolve().parent)
    except FileNotFoundError:
        return args.checks_fallback(module, path)


def _check_with(args: argparse.Namespace, path: Path, launched) -> int:
    from dlgrade.handout.checks import ChecksFileError, format_report, load_checks, run_checks
    from dlgrade.supervisor.client import WorkerClient
    from dlgrade.judging.source_scan import scan_source, with_scan_findings
    from dlgrade.supervisor.submission import load_submission

    checks_file = _checks_file(args, path)
    if not checks_file.exists():
        raise UsageError(f"no such checks file: {checks_file}")
    try:
        checks = load_checks(checks_file)
    except ChecksFileError as exc:
        raise UsageError(str(exc)) from None
    submission = load_submission(path, checks.assignment)
    if submission.problem:
        raise UsageError(submission.problem)
    scan = scan_source([(c.label, c.source) for c in submission.chunks], checks.forbidden)
    with WorkerClient(submission, checks.assignment, checks.forbidden, launched=launched,
                      lang=checks.lang) as client:
        results = run_checks(checks, lambda request: with_scan_findings(request, client.request(request), scan))
        for line in client.load_errors():
            print(line)
    print(format_report(results, checks.lang))
    return 0 if all(r.passed for r in results) else 1
