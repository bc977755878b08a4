"""``dlgrade grade``: grade a batch of submissions in parallel; write results, gradebook and report.

One pytest session (:func:`run_graders`) grades the batch, with ``jobs`` workers running at once
(the submission being checked and the next ones, answering ahead; see
:mod:`dlgrade.grading.prefetch`). Machines with many CPUs split the batch into several sessions,
one per :data:`~dlgrade.grading.options.JOBS_PER_SESSION` jobs, all at once. ``results.json`` files are written per
submission as each session goes, which is how progress is followed and how a killed session is
survived.
"""
from __future__ import annotations

import tempfile
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dlgrade.authoring.registry import Assignment
from dlgrade.batch.exports import check_zip, expand_export, is_export, is_zip_name
from dlgrade.batch.gradebook import Graded, score_table, write_gradebook
from dlgrade.cli import note
from dlgrade.errors import GradingFailed, UsageError
from dlgrade.batch.entries import Entry, existing, given_once, read_results, safe_name, submission_name, uniquify
from dlgrade.grading.child import run_graders
from dlgrade.grading.options import GradingOptions
from dlgrade.grading.results import TestResult, gradescope_results, write_results

__all__ = ["grade", "grade_batch", "checked_paths", "collect_entries", "split_chunks", "score_table", "write_gradebook"]

ProgressCallback = Callable[[Entry, dict], None]
POLL_S = 0.2


def checked_paths(paths: list[Path]) -> list[Path]:
    """The submissions to grade, checked before any work: each exists and each zip opens (else
    a one-line :class:`UsageError` naming it); each file or folder once, however spelled (a note
    on stderr for one given twice)."""
    unique, notes = given_once(existing(paths))
    for text in notes:
        note(text)
    for path in unique:
        if path.is_file() and is_zip_name(path):
            check_zip(path)
    return unique


def collect_entries(paths: list[Path], workdir: Path) -> list[Entry]:
    """One uniquely named entry per submission; a Gradescope export gives one per student folder
    (named after the student; a zip export is extracted under ``workdir``)."""
    found: list[tuple[str, Path, str, str]] = []  # (base name, path, label, email)
    for index, path in enumerate(paths):
        if is_export(path):
            for sub in expand_export(path, workdir / f"export-{index}"):
                found.append((safe_name(sub.name), sub.path, sub.name, sub.email))
        else:
            found.append((submission_name(path), path, "", ""))
    names = uniquify([base for base, *_ in found])
    return [Entry(name, path, label, email) for name, (_, path, label, email) in zip(names, found)]


def split_chunks(entries: list[Entry], jobs: int) -> list[list[Entry]]:
    """``entries`` in at most ``jobs`` contiguous chunks of near-equal size."""
    count = max(1, min(jobs, len(entries)))
    size, extra = divmod(len(entries), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        chunks.append(entries[start:end])
        start = end
    return [c for c in chunks if c]


def _failed_run(entry: Entry, why: str) -> dict:
    test = TestResult("grading run", 0.0, 0.0, why, "visible", ran=False)
    return gradescope_results([test], f"not graded: {entry.path.name}")  # our words first


@dataclass
class ChunkOutcome:
    """What grading a chunk gave: every entry's results, the sessions' output, and the entries
    the grading machinery itself failed (a session that could not start or failed before
    grading them: no fault of theirs), each with why."""

    results: dict[str, dict] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)


def _what_it_said(text: str) -> str:
    """What a failed process said: the last line of ``text`` that names an error, else its last
    line; at most 200 characters ('' for no output)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[-1][:200]


def _grade_chunk(assignment: Assignment, entries: list[Entry], out_dir: Path, options: GradingOptions,
                 stop: threading.Event) -> ChunkOutcome:
    """Grade ``entries`` in one pytest session (more after a killed one); every entry gets a results file."""
    outcome = ChunkOutcome()
    results, logs, pending = outcome.results, outcome.logs, entries

    def fail(entry: Entry, why: str) -> None:  # written now, so that progress sees it
        results[entry.name] = _failed_run(entry, why)
        write_results(out_dir / entry.name / "results.json", results[entry.name])

    def not_graded(entry: Entry, why: str, detail: str) -> None:  # the machinery failed, not the submission
        fail(entry, why)
        outcome.not_run[entry.name] = detail

    while pending and not stop.is_set():
        try:
            proc = run_graders(assignment, pending, out_dir, options)
        except OSError as exc:
            logs.append(f"could not start the graders: {exc}")
            why = f"the grading run could not start ({exc})"
            for entry in pending:
                not_graded(entry, why, why)
            break
        logs.append(proc.stdout + proc.stderr)
        results.update({k: v for k, v in read_results(out_dir, pending).items() if v is not None})
        pending = [e for e in pending if e.name not in results]
        if not pending or stop.is_set():
            break
        if proc.returncode < 0:
            # the grading process was killed (results are written per submission as it goes):
            # blame the submission it was on, and grade the others in a fresh run
            culprit, pending = pending[0], pending[1:]
            fail(culprit, f"the grading process was killed (signal {-proc.returncode}) while grading it")
        else:
            status = f"pytest exit status {proc.returncode}"
            said = _what_it_said(proc.stderr) or _what_it_said(proc.stdout)
            detail = f"the grading run failed ({status}{f': {said}' if said else ''})"
            for entry in pending:  # the graders themselves failed: still give a results file
                not_graded(entry, f"the grading run failed ({status}); see grading.log", detail)
            pending = []
    return outcome


def _follow(futures: list[Future], entries: list[Entry], out_dir: Path,
            progress: ProgressCallback | None) -> None:
    """Wait for the chunks, telling ``progress`` about each ``results.json`` as it appears."""
    reported: set[str] = set()
    while True:
        finished = all(f.done() for f in futures)  # before looking, so the last look sees everything
        if progress is not None:
            found = read_results(out_dir, [e for e in entries if e.name not in reported])
            for entry in entries:
                if found.get(entry.name) is not None:
                    reported.add(entry.name)
                    progress(entry, found[entry.name])
        if finished:
            return
        wait(futures, timeout=POLL_S, return_when=FIRST_EXCEPTION)


def _import_report(assignment: Assignment) -> None:
    from matplotlib.backends import backend_agg  # noqa: F401

    # the report's title and questions come from the assignment's spec, which imports torch: loaded
    # beside the graders too (after them, it was ~1.5 s more of every batch on 2 CPUs); if it fails,
    # the report's own access fails again and says why
    try:
        assignment.spec
    except Exception:
        pass


def grade_batch(assignment: Assignment, paths: list[Path], out_dir: Path, options: GradingOptions | None = None,
                progress: ProgressCallback | None = None, on_start: Callable[[int], None] | None = None,
                report: bool = True) -> list[Graded]:
    """Grade ``paths`` as ``options`` say: ``options.jobs`` workers at once in
    :meth:`~dlgrade.grading.options.GradingOptions.session_count` pytest sessions; what students
    read (test names, feedback, hints) is in ``options.lang``, the gradebook and the report in English.

    Writes ``out_dir/<name>/results.json``, ``gradebook.csv``, ``grading.log`` and, with
    ``report``, ``report.html``, ``scores.png`` and ``<name>/feedback.html``. ``on_start(total)``
    is called once the submissions are known, ``progress(entry, results)`` as each one finishes.
    Raises :class:`~dlgrade.errors.GradingFailed` when the grading machinery graded none of them
    (its sessions could not start, or failed before grading anything): a broken submission is
    no such failure, it scores 0 on what it broke.
    """
    options = options or GradingOptions()
    paths = checked_paths(paths)
    if report:  # import the report's plotting library while the graders run, not after them
        threading.Thread(target=_import_report, args=(assignment,), daemon=True, name="dlgrade-import-report").start()
    with tempfile.TemporaryDirectory(prefix="dlgrade-exports-") as tmp:
        entries = collect_entries(paths, Path(tmp))
        if not entries:
            raise UsageError("no submissions to grade")
        out_dir.mkdir(parents=True, exist_ok=True)
        for entry in entries:  # never report a previous run's results as this run's
            (out_dir / entry.name / "results.json").unlink(missing_ok=True)
        if on_start is not None:
            on_start(len(entries))
        chunks = split_chunks(entries, options.session_count(len(entries)))
        per_session = options.per_session(len(chunks))
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="dlgrade-chunk") as pool:
            futures = [pool.submit(_grade_chunk, assignment, chunk, out_dir, per_session, stop)
                       for chunk in chunks]
            try:
                _follow(futures, entries, out_dir, progress)
            except BaseException:  # Ctrl-C: the sessions get it too; write no placeholders for them
                stop.set()
                raise
        results: dict[str, dict] = {}
        not_run: dict[str, str] = {}
        logs = []
        for number, future in enumerate(futures, start=1):
            outcome = future.result()
            results.update(outcome.results)
            not_run.update(outcome.not_run)
            logs += [f"=== session {number}.{run} ===\n{log}" for run, log in enumerate(outcome.logs, start=1)]
    (out_dir / "grading.log").write_text("\n".join(logs))
    batch = [Graded(e, results[e.name]) for e in entries]
    # written even when nothing was graded: every file of this folder then says so (none of an
    # earlier run's is left to be taken for this one's)
    write_gradebook(out_dir / "gradebook.csv", batch)
    if report:
        from dlgrade.authoring.translations import assignment_text
        from dlgrade.batch.report import write_report

        write_report(out_dir, batch, f"{assignment.name}: grading report", options.lang,
                     assignment_text(assignment, options.lang).title, questions=assignment.questions)
    if len(not_run) == len(entries):
        raise GradingFailed(f"no submission could be graded: {next(iter(not_run.values()))}; "
                            f"see {out_dir / 'grading.log'}")
    return batch


def grade(assignment: Assignment, paths: list[Path], out_dir: Path, options: GradingOptions | None = None,
          progress: ProgressCallback | None = None, report: bool = False) -> dict[str, dict]:
    """:func:`grade_batch`, returning ``{name: results}`` (no HTML report unless ``report``)."""
    batch = grade_batch(assignment, paths, out_dir, options, progress=progress, report=report)
    return {g.entry.name: g.results for g in batch}
