"""dlgrade: grade deep-learning homework (students: check; instructors: grade, selftest, generate)."""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dlgrade.errors import UsageError
from dlgrade.i18n import DEFAULT_LANG, LANGS
from dlgrade.registry import ASSIGNMENTS, Assignment, get_assignment

if TYPE_CHECKING:
    from dlgrade.gradebook import Graded


def _positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _assignments(name: str | None) -> list:
    return [get_assignment(n) for n in ([name] if name else ASSIGNMENTS)]


def cmd_check(args: argparse.Namespace) -> int:
    from dlgrade.worker.launcher import launch

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


def _check_with(args: argparse.Namespace, path: Path, launched) -> int:
    from dlgrade.checks import ChecksFileError, find_checks_file, format_report, load_checks, run_checks
    from dlgrade.submission import load_submission
    from dlgrade.worker.client import WorkerClient

    module = args.assignment or path.stem
    if args.checks:
        checks_file = Path(args.checks)
    else:
        try:
            checks_file = find_checks_file(module, path.resolve().parent)
        except FileNotFoundError:
            if module not in ASSIGNMENTS:
                raise UsageError(f"no {module}_checks.json next to {path.name}; name the assignment "
                                 f"with --assignment ({', '.join(ASSIGNMENTS)})") from None
            checks_file = get_assignment(module).template_dir / f"{module}_checks.json"
    if not checks_file.exists():
        raise UsageError(f"no such checks file: {checks_file}")
    try:
        data = load_checks(checks_file)
    except ChecksFileError as exc:
        raise UsageError(str(exc)) from None
    submission = load_submission(path, data["assignment"])
    if submission.problem:
        raise UsageError(submission.problem)
    with WorkerClient(submission, data["assignment"], data.get("forbidden", {}), launched=launched,
                      lang=data["lang"]) as client:
        results = run_checks(data, client.request)
        for line in client.load_errors():
            print(line)
    print(format_report(results, data["lang"]))
    return 0 if all(r.passed for r in results) else 1


def _positive_int(text: str) -> int:
    """argparse type: a whole number greater than 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _grade_with_progress(assignment: Assignment, paths: list[Path], out: Path, timeout: float | None = None,
                         jobs: int | None = None, sessions: int | None = None,
                         lang: str = DEFAULT_LANG) -> list[Graded]:
    """Grade a batch (report included), showing progress as submissions finish."""
    from dlgrade.grade import grade_batch
    from dlgrade.progress import Progress

    progress = Progress()
    try:
        return grade_batch(assignment, paths, out, timeout=timeout, jobs=jobs, progress=progress,
                           on_start=progress.start, sessions=sessions, lang=lang)
    finally:
        progress.close()


def cmd_grade(args: argparse.Namespace) -> int:
    from dlgrade.grade import score_table

    assignment = get_assignment(args.assignment)
    out = Path(args.out)
    batch = _grade_with_progress(assignment, [Path(p) for p in args.submissions], out, args.timeout, args.jobs,
                                 args.sessions, args.lang)
    print(score_table(batch))
    print(f"Results: {out / '<name>' / 'results.json'}; gradebook: {out / 'gradebook.csv'}")
    print(f"Report: {out / 'report.html'}")
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from dlgrade.selftest import format_rows, selftest

    rows = [row for a in _assignments(args.assignment) for row in selftest(a)]
    print(format_rows(rows))
    return 0 if all(r.ok for r in rows) else 1


def cmd_generate(args: argparse.Namespace) -> int:
    from dlgrade.generate import generate

    for assignment in _assignments(args.assignment):
        for path in generate(assignment, Path(args.out) / assignment.name if args.out else None):
            print(f"wrote {path}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from dlgrade.build import build

    out = Path(args.out)
    for assignment in _assignments(args.assignment):
        for path in build(assignment, out, args.lang):
            print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dlgrade.grade import score_table

    status = cmd_selftest(argparse.Namespace(assignment=None))
    print(f"\nBuilding the course files into {args.dist}/:")
    cmd_build(argparse.Namespace(out=args.dist, assignment=None, lang=DEFAULT_LANG))
    out = Path(args.out)
    reports = []
    for assignment in _assignments(None):
        samples = sorted(p for p in assignment.samples_dir.iterdir() if p.suffix in (".py", ".ipynb"))
        print(f"\nGrading the {len(samples)} sample submissions of {assignment.name} as one batch:")
        print(score_table(_grade_with_progress(assignment, samples, out / assignment.name)))
        reports.append(out / assignment.name / "report.html")
        print(f"Report: {reports[-1]}")
    print(f"\nResults, gradebooks and reports are in {out}/; open {' and '.join(map(str, reports))} in a browser")
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlgrade", description=__doc__ or "")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="run the public checks on your rnn.py / attention.py / .ipynb")
    p.add_argument("file", help="your .py or .ipynb file")
    p.add_argument("--assignment", help="assignment name (default: the file's name)")
    p.add_argument("--checks", help="public checks file (default: <assignment>_checks.json next to the file)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="grade submissions; write results.json files, gradebook.csv and report.html")
    p.add_argument("--assignment", required=True, help=f"one of: {', '.join(ASSIGNMENTS)}")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--timeout", type=_positive_seconds, default=20.0, help="seconds allowed per call into student code")
    p.add_argument("--jobs", type=_positive_int,
                   help="workers running student code at once "
                        f"(default: one more than the CPUs, {(os.cpu_count() or 1) + 1} here)")
    p.add_argument("--sessions", type=_positive_int,
                   help="grading sessions (trusted processes checking answers) at once; default: one per 4 jobs")
    p.add_argument("submissions", nargs="+",
                   help=".py, .ipynb, folder or .zip; or a Gradescope export (folder or .zip with submission_metadata.yml)")
    p.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG,
                   help="language of the feedback students read in results.json (default: en); "
                        "the gradebook and the report stay in English")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("selftest", help="grade the reference, the stubs and every catalogued mistake")
    p.add_argument("--assignment", help="only this assignment")
    p.set_defaults(func=cmd_selftest)

    p = sub.add_parser("generate", help="regenerate student_template/ from solutions/")
    p.add_argument("--assignment", help="only this assignment")
    p.add_argument("--out", help="write here instead of student_template/")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("build", help="write student.zip, autograder.zip (Otter) and solutions.zip per assignment")
    p.add_argument("--out", required=True, help="output folder (DIR/<assignment>/...)")
    p.add_argument("--assignment", help="only this assignment")
    p.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG,
                   help="language of the handout, its checks and the Gradescope feedback (default: en)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("demo", help="self-test every assignment and grade the sample submissions")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--dist", default="dist", help="where to build student/autograder/solutions zips (default: dist)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"dlgrade: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlgrade: interrupted", file=sys.stderr)
        return 130
    finally:
        exit_quickly()


def exit_quickly() -> None:
    """Let the interpreter's final garbage collections skip every object alive now: after a
    command that imported torch they take about 0.4 s, and nothing is left to clean up."""
    import gc

    gc.freeze()
