"""``dlgrade grade``: grade a batch of submissions and write results and a gradebook."""
from __future__ import annotations

import csv
from pathlib import Path

from dlgrade.errors import UsageError
from dlgrade.grading.results import TestResult, gradescope_results, write_results
from dlgrade.grading.session import Entry, read_results, run_graders, unique_names
from dlgrade.registry import Assignment


def grade(assignment: Assignment, paths: list[Path], out_dir: Path,
          timeout: float | None = None) -> dict[str, dict]:
    """Grade ``paths``; write ``out_dir/<name>/results.json`` and ``out_dir/gradebook.csv``."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    entries = unique_names(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    for entry in entries:  # never report a previous run's results as this run's
        (out_dir / entry.name / "results.json").unlink(missing_ok=True)
    results: dict[str, dict] = {}
    pending, logs = entries, []
    while pending:
        proc = run_graders(assignment, pending, out_dir, timeout=timeout)
        logs.append(proc.stdout + proc.stderr)
        results.update({k: v for k, v in read_results(out_dir, pending).items() if v is not None})
        pending = [e for e in pending if e.name not in results]
        if pending and proc.returncode < 0:
            # the grading process was killed (results are written per submission as it goes):
            # blame the submission it was on, and grade the others in a fresh run
            culprit, pending = pending[0], pending[1:]
            results[culprit.name] = _failed_run(
                culprit, f"the grading process was killed (signal {-proc.returncode}) while grading it")
        else:
            for entry in pending:  # the graders themselves failed: still give a results file
                results[entry.name] = _failed_run(
                    entry, f"the grading run failed (pytest exit status {proc.returncode}); see grading.log")
            pending = []
    for entry in entries:
        if not (out_dir / entry.name / "results.json").exists():
            write_results(out_dir / entry.name / "results.json", results[entry.name])
    (out_dir / "grading.log").write_text("\n".join(logs))
    write_gradebook(out_dir / "gradebook.csv", entries, results)
    return {e.name: results[e.name] for e in entries}


def _failed_run(entry: Entry, why: str) -> dict:
    test = TestResult("grading run", 0.0, 0.0, why, "visible", ran=False)
    return gradescope_results([test], f"{entry.path.name}: not graded")


def write_gradebook(path: Path, entries: list[Entry], results: dict[str, dict]) -> None:
    """One row per submission: name, score, max_score."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "score", "max_score"])
        for entry in entries:
            result = results[entry.name]
            writer.writerow([entry.name, f"{result['score']:g}", f"{result.get('max_score', 0):g}"])


def score_table(results: dict[str, dict]) -> str:
    """Plain-text table: name, score, tests passed."""
    width = max([len(n) for n in results] + [10])
    lines = [f"{'submission':<{width}}  {'score':>11}  passed", "-" * (width + 22)]
    for name, result in results.items():
        tests = result["tests"]
        passed = sum(t["status"] == "passed" for t in tests)
        lines.append(f"{name:<{width}}  {result['score']:>5g}/{result.get('max_score', 0):<5g}  {passed}/{len(tests)}")
    return "\n".join(lines)
