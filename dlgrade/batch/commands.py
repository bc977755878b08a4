"""``dlgrade grade`` (a batch: results, gradebook, report) and ``dlgrade demo``."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment
from dlgrade.cli import creatable_folder, positive_int, positive_seconds
from dlgrade.grading.options import JOBS_PER_SESSION, GradingOptions, default_jobs
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS
from dlgrade.supervisor.policy import POLICY

if TYPE_CHECKING:
    from dlgrade.batch.gradebook import Graded


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``grade`` and ``demo``."""
    p = sub.add_parser("grade", help="grade submissions; write results.json files, gradebook.csv and report.html")
    p.add_argument("--assignment", required=True, help=f"one of: {', '.join(ASSIGNMENTS)}")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--timeout", type=positive_seconds, default=POLICY.call_timeout_s, help="seconds allowed per call into student code")
    p.add_argument("--budget", type=positive_seconds,
                   help="seconds a submission's code may run in all, reloads after a crash included; past "
                        f"it, its remaining tests score 0 (default: {POLICY.budget_per_timeout:g} x --timeout)")
    p.add_argument("--jobs", type=positive_int,
                   help="workers running student code at once "
                        f"(default: one more than the CPUs, {default_jobs()} here)")
    p.add_argument("--sessions", type=positive_int,
                   help=f"grading sessions (trusted processes checking answers) at once; default: one per {JOBS_PER_SESSION} jobs")
    p.add_argument("submissions", nargs="+",
                   help=".py, .ipynb, folder or .zip; or a Gradescope export (folder or .zip with submission_metadata.yml)")
    p.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG,
                   help="language of the feedback students read in results.json (default: en); "
                        "the gradebook and the report stay in English")
    p.add_argument("--allow-unconfined", action="store_true",
                   help="as root on a machine without namespaces or seccomp, run student code anyway "
                        "(refused otherwise)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="self-test every assignment and grade the sample submissions")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--dist", default="dist", help="where to build student/autograder/solutions zips (default: dist)")
    p.set_defaults(func=cmd_demo)


def grade_with_progress(assignment: Assignment, paths: list[Path], out: Path,
                        options: GradingOptions | None = None) -> list[Graded]:
    """Grade a batch (report included), showing progress as submissions finish."""
    from dlgrade.batch.progress import Progress
    from dlgrade.batch.run import grade_batch

    progress = Progress()
    try:
        return grade_batch(assignment, paths, out, options, progress=progress, on_start=progress.start)
    finally:
        progress.close()


def announce_confinement(allow_unconfined: bool = False) -> None:
    """Say first how student code will be confined here; refuse (a one-line error) where that is
    less than a uid of its own and the seccomp filter as root, unless allowed."""
    from dlgrade.supervisor import tier

    if allow_unconfined:
        os.environ[tier.ALLOW_UNCONFINED] = "1"  # the grading sessions (child processes) see it too
    tier.require_confinement()
    print(f"Confinement: {tier.describe()}", flush=True)


def cmd_grade(args: argparse.Namespace) -> int:
    from dlgrade.batch.gradebook import score_table
    from dlgrade.batch.run import checked_paths
    from dlgrade.batch.tables import show

    assignment = get_assignment(args.assignment)  # every argument checked before any work
    out = creatable_folder(Path(args.out))
    paths = checked_paths([Path(p) for p in args.submissions])
    announce_confinement(args.allow_unconfined)
    options = GradingOptions(timeout=args.timeout, budget=args.budget, jobs=args.jobs or default_jobs(), sessions=args.sessions,
                             lang=args.lang)
    batch = grade_with_progress(assignment, paths, out, options)
    show(score_table(batch))
    print(f"Results: {out / '<name>' / 'results.json'}; gradebook: {out / 'gradebook.csv'}")
    print(f"Report: {out / 'report.html'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dlgrade.authoring import commands as authoring
    from dlgrade.batch.gradebook import score_table
    from dlgrade.batch.tables import show
    from dlgrade.packaging import commands as packaging

    out = creatable_folder(Path(args.out))  # both folders checked before a minute of work
    creatable_folder(Path(args.dist))
    announce_confinement()
    status = authoring.cmd_selftest(argparse.Namespace(assignment=None))
    print(f"\nBuilding the course files into {args.dist}/:")
    packaging.cmd_build(argparse.Namespace(out=args.dist, assignment=None, lang=DEFAULT_LANG))
    reports = []
    for assignment in authoring.assignments(None):
        samples = assignment.scenarios
        print(f"\nGrading the {len(samples)} sample submissions of {assignment.name} as one batch:")
        show(score_table(grade_with_progress(assignment, samples, out / assignment.name)))
        reports.append(out / assignment.name / "report.html")
        print(f"Report: {reports[-1]}")
    print(f"\nResults, gradebooks and reports are in {out}/; open {' and '.join(map(str, reports))} in a browser")
    return status
