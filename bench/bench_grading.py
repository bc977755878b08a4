"""Benchmark: dlgrade's batch grading against ``otter run`` on the same machine, in the same run.

    .venv/bin/python bench/bench_grading.py [--n 40] [--otter-runs 3] [--jobs N]

Builds N rnn submissions (correct, catalogued mistakes, and a few hostile ones), grades them with
``dlgrade grade`` as one batch, and times ``otter run`` on a plain Otter assignment of the same
size (8 exception-format tests that compare the student's modules with torch's in Otter's kernel),
made on the fly. Prints a table: per-submission time, throughput, peak memory of the process tree,
and the ratio to ``otter run``. Not part of ``make test``: speed goals live here, not in tests.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dlgrade.grading.reference import ReferenceSet  # noqa: E402
from dlgrade.mistakes import strip_solution_markers  # noqa: E402
from dlgrade.registry import get_assignment  # noqa: E402

EXIT_AT_IMPORT = "import sys\nsys.exit(1)\n"

OTTER_TESTS = '''\
OK_FORMAT = False
name = "q{i}"
points = 1
from otter.test_files import test_case

@test_case(points=1)
def check(env):
    import torch
    torch.manual_seed({i})
    kind = {kind!r}
    if kind == "LSTMCell":
        mine, ref = env["LSTMCell"](5, 4), torch.nn.LSTMCell(5, 4)
        ref.load_state_dict(mine.state_dict())
        x, s = torch.randn(3, 5), (torch.randn(3, 4), torch.randn(3, 4))
        for a, b in zip(mine(x, s), ref(x, s)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    elif kind == "GRUCell":
        mine, ref = env["GRUCell"](5, 4), torch.nn.GRUCell(5, 4)
        ref.load_state_dict(mine.state_dict())
        x, h = torch.randn(3, 5), torch.randn(3, 4)
        torch.testing.assert_close(mine(x, h), ref(x, h), atol=1e-5, rtol=1e-4)
    else:
        mine = env["LSTM"](3, 4)
        ref = torch.nn.LSTM(3, 4, batch_first=True)
        sd = mine.cell.state_dict()
        ref.load_state_dict({{k + "_l0": v for k, v in sd.items()}})
        x = torch.randn(2, 5, 3)
        torch.testing.assert_close(mine(x)[0], ref(x)[0], atol=1e-5, rtol=1e-4)
'''


def submissions(folder: Path, n: int) -> list[Path]:
    """N rnn submissions: the reference, every catalogued mistake and one that exits at import, in turn."""
    assignment = get_assignment("rnn")
    reference = ReferenceSet(assignment)
    correct = strip_solution_markers(assignment.solution_path.read_text())
    variants = [("correct", correct)] + [(m.id, reference.mistake_source(m)) for m in assignment.mistakes]
    variants.append(("exit_at_import", EXIT_AT_IMPORT + correct))
    paths = []
    for i, (name, source) in zip(range(n), itertools.cycle(variants)):
        path = folder / f"s{i:03d}_{name}" / "rnn.py"
        path.parent.mkdir(parents=True)
        path.write_text(source)
        paths.append(path.parent)
    return paths


class PeakMemory:
    """Samples the summed RSS of a process tree (the child and all its descendants)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.peak = proc, 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree_rss(self) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            except OSError:
                continue
            pid = int(status.parent.name)
            children.setdefault(int(fields["PPid"]), []).append(pid)
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        total, stack = 0, [self.proc.pid]
        while stack:
            pid = stack.pop()
            total += rss.get(pid, 0)
            stack += children.get(pid, [])
        return total

    def _run(self) -> None:
        while self.proc.poll() is None:
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(0.1)


def timed(command: list[str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    memory = PeakMemory(proc)
    out, _ = proc.communicate()
    return time.perf_counter() - start, memory.peak, subprocess.CompletedProcess(command, proc.returncode, out)


def otter_zip(folder: Path) -> Path:
    """A plain Otter autograder with 8 tests of the same assignment (tests run in Otter's kernel)."""
    tests = folder / "tests"
    tests.mkdir(parents=True)
    kinds = ["LSTMCell", "GRUCell", "LSTM", "LSTMCell", "GRUCell", "LSTM", "LSTMCell", "GRUCell"]
    for i, kind in enumerate(kinds):
        (tests / f"q{i}.py").write_text(OTTER_TESTS.format(i=i, kind=kind))
    (folder / "requirements.txt").write_text("torch\n")
    subprocess.run([sys.executable, "-m", "otter", "generate", "--tests-dir", "tests", "--no-config",
                    "--requirements", "requirements.txt", "-o", "autograder.zip"], cwd=folder, check=True,
                   capture_output=True)
    return folder / "autograder.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="submissions in the dlgrade batch")
    parser.add_argument("--otter-runs", type=int, default=3, help="submissions timed with otter run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="dlgrade-bench-") as tmp:
        tmp = Path(tmp)
        subs = submissions(tmp / "subs", args.n)
        seconds, peak, proc = timed([str(bin_dir / "dlgrade"), "grade", "--assignment", "rnn", "--out",
                                     str(tmp / "out"), "--jobs", str(args.jobs), *map(str, subs)], tmp)
        if proc.returncode != 0:
            raise SystemExit(proc.stdout)
        graded = sum(1 for s in subs if (tmp / "out" / s.name / "results.json").exists())
        single, single_peak, _ = timed([str(bin_dir / "dlgrade"), "grade", "--assignment", "rnn", "--out",
                                        str(tmp / "one"), str(subs[0])], tmp)
        autograder = otter_zip(tmp / "otter")
        otter_times, otter_peak = [], 0
        for i in range(args.otter_runs):
            run_dir = tmp / f"otter-run-{i}"
            run_dir.mkdir()
            t, p, proc = timed([str(bin_dir / "otter"), "run", "-a", str(autograder), "-o", str(run_dir),
                                "--no-logo", str(subs[0] / "rnn.py")], run_dir)
            if not (run_dir / "results.json").exists():
                raise SystemExit(proc.stdout)
            otter_times.append(t)
            otter_peak = max(otter_peak, p)
    otter_each = sum(otter_times) / len(otter_times)
    per_sub = seconds / args.n
    rows = [
        ("dlgrade grade, batch", f"{args.n} ({graded} graded)", f"{per_sub * 1000:.0f} ms", f"{args.n / seconds:.2f}/s",
         f"{peak / 2**20:.0f} MiB", f"{otter_each / per_sub:.1f}x"),
        ("dlgrade grade, 1 cold", "1", f"{single * 1000:.0f} ms", f"{1 / single:.2f}/s",
         f"{single_peak / 2**20:.0f} MiB", f"{single / otter_each:.2f} of otter"),
        ("otter run", f"{args.otter_runs}", f"{otter_each * 1000:.0f} ms", f"{1 / otter_each:.2f}/s",
         f"{otter_peak / 2**20:.0f} MiB", "1.0x"),
    ]
    header = ("what", "submissions", "per submission", "throughput", "peak memory", "vs otter run")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print(json.dumps({"n": args.n, "batch_s": round(seconds, 2), "per_submission_ms": round(per_sub * 1000),
                      "otter_run_ms": round(otter_each * 1000), "single_cold_ms": round(single * 1000),
                      "batch_peak_mib": round(peak / 2**20), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
