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
from pathlib import Path
from typing import Callable

from dlgrade.authoring.registry import Assignment
from dlgrade.batch.exports import expand_export, is_export
from dlgrade.batch.gradebook import Graded, score_table, write_gradebook
from dlgrade.errors import UsageError
from dlgrade.batch.entries import Entry, read_results, safe_name, submission_name, uniquify
from dlgrade.grading.child import run_graders
from dlgrade.grading.options import GradingOptions
from dlgrade.grading.results import TestResult, gradescope_results, write_results

__all__ = ["grade", "grade_batch", "collect_entries", "split_chunks", "score_table", "write_gradebook"]

ProgressCallback = Callable[[Entry, dict], None]
POLL_S = 0.2


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


def _grade_chunk(assignment: Assignment, entries: list[Entry], out_dir: Path, options: GradingOptions,
                 stop: threading.Event) -> tuple[dict[str, dict], list[str]]:
    """Grade ``entries`` in one pytest session (more after a killed one); every entry gets a results file."""
    results: dict[str, dict] = {}
    pending, logs = entries, []

    def fail(entry: Entry, why: str) -> None:  # written now, so that progress sees it
        results[entry.name] = _failed_run(entry, why)
        write_results(out_dir / entry.name / "results.json", results[entry.name])

    while pending and not stop.is_set():
        try:
            proc = run_graders(assignment, pending, out_dir, options)
        except OSError as exc:
            logs.append(f"could not start the graders: {exc}")
            for entry in pending:
                fail(entry, f"the grading run could not start ({exc})")
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
            for entry in pending:  # the graders themselves failed: still give a results file
                fail(entry, f"the grading run failed (pytest exit status {proc.returncode}); see grading.log")
            pending = []
    return results, logs


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


def _import_report() -> None:
    from matplotlib.backends import backend_agg  # noqa: F401


def grade_batch(assignment: Assignment, paths: list[Path], out_dir: Path, options: GradingOptions | None = None,
                progress: ProgressCallback | None = None, on_start: Callable[[int], None] | None = None,
                report: bool = True) -> list[Graded]:
    """Grade ``paths`` as ``options`` say: ``options.jobs`` workers at once in
    :meth:`~dlgrade.grading.options.GradingOptions.session_count` pytest sessions; what students
    read (test names, feedback, hints) is in ``options.lang``, the gradebook and the report in English.

    Writes ``out_dir/<name>/results.json``, ``gradebook.csv``, ``grading.log`` and, with
    ``report``, ``report.html``, ``scores.png`` and ``<name>/feedback.html``. ``on_start(total)``
    is called once the submissions are known, ``progress(entry, results)`` as each one finishes.
    """
    options = options or GradingOptions()
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    if report:  # import the report's plotting library while the graders run, not after them
        threading.Thread(target=_import_report, daemon=True, name="dlgrade-import-report").start()
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
        logs = []
        for number, future in enumerate(futures, start=1):
            chunk_results, chunk_logs = future.result()
            results.update(chunk_results)
            logs += [f"=== session {number}.{run} ===\n{log}" for run, log in enumerate(chunk_logs, start=1)]
    (out_dir / "grading.log").write_text("\n".join(logs))
    batch = [Graded(e, results[e.name]) for e in entries]
    write_gradebook(out_dir / "gradebook.csv", batch)
    if report:
        from dlgrade.batch.report import write_report

        write_report(out_dir, batch, f"{assignment.name}: grading report")
    return batch


def grade(assignment: Assignment, paths: list[Path], out_dir: Path, options: GradingOptions | None = None,
          progress: ProgressCallback | None = None, report: bool = False) -> dict[str, dict]:
    """:func:`grade_batch`, returning ``{name: results}`` (no HTML report unless ``report``)."""
    batch = grade_batch(assignment, paths, out_dir, options, progress=progress, report=report)
    return {g.entry.name: g.results for g in batch}
