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
    proc = run_graders(assignment, entries, out_dir, log=out_dir / "grading.log", timeout=timeout)
    results = read_results(out_dir, entries)
    for entry in entries:
        if results[entry.name] is None:  # the grading run itself failed: still give a results file
            results[entry.name] = _failed_run(entry, proc.returncode)
            write_results(out_dir / entry.name / "results.json", results[entry.name])
    write_gradebook(out_dir / "gradebook.csv", entries, results)
    return results


def _failed_run(entry: Entry, code: int) -> dict:
    test = TestResult("grading run", 0.0, 0.0, f"the grading run failed (pytest exit status {code}); "
                      "see grading.log", "visible")
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
