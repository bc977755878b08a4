"""Benchmark: dlgrade's batch grading against ``otter run`` on the same machine, in the same run.

    .venv/bin/python bench/bench_grading.py [--n 100] [--otter-runs 3] [--jobs N]

Builds N rnn submissions (correct, every catalogued mistake, and a few hostile ones), grades them
with ``dlgrade grade`` as one batch (and a batch of N/4, to show that memory does not grow with
N), grades one cold, runs one cold ``dlgrade check``, times the floor (the same requests answered by
the reference in this process, no worker: :func:`floor`), and times ``otter run`` on a plain Otter
assignment of the same size (as many exception-format tests as rnn's graders, comparing the
student's modules with torch's in Otter's kernel), made on the fly, side by side with ``otter run``
of dlgrade's own ``autograder.zip`` (the Gradescope path: confinement on, Otter's kernel skipped;
the ratio is the median of the pairs). Prints a table: time per
submission, throughput, peak memory of the process tree (PSS: shared pages counted once, as the
forked workers share torch with their zygote), the ratio to ``otter run`` and, for the batch, to
the floor. Not part of
``make test``: speed goals live here, not in tests.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
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

from dlgrade.authoring.registry import get_assignment  # noqa: E402
from dlgrade.grading.oracle import ReferenceOracle  # noqa: E402

# hostile submissions that fail fast (a hang would only measure --timeout)
HOSTILE = {
    "exit_at_import": "import sys\nsys.exit(1)\n{reference}",
    "os_exit_in_forward": "{reference}\nimport os\nLSTMCell.forward = lambda self, *a, **k: os._exit(3)\n",
    "memory_hog": "{reference}\ndef _grab(self, *a, **k):\n    return bytearray(1 << 40)\nGRUCell.forward = _grab\n",
    "reads_the_grader": "try:\n    print(open({solution!r}).read())\nexcept OSError:\n    pass\n{reference}",
}

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
    """N rnn submissions, each file different: the reference and every catalogued mistake in turn,
    and the hostile ones, each once, spread out (the 25th, 50th, ... submission)."""
    assignment = get_assignment("rnn")
    reference = ReferenceOracle(assignment)
    correct = assignment.reference_source
    ordinary = itertools.cycle([("correct", correct)] + [(m.id, reference.mistake_source(m))
                                                         for m in assignment.mistakes])
    hostile = iter([(name, text.format(reference=correct, solution=str(assignment.solution_path)))
                    for name, text in HOSTILE.items()])
    every = max(1, n // len(HOSTILE))
    paths = []
    for i in range(n):
        pick = next(hostile, None) if i % every == every - 1 else None
        name, source = pick or next(ordinary)
        path = folder / f"s{i:03d}_{name}" / "rnn.py"
        path.parent.mkdir(parents=True)
        path.write_text(f"# submission {i}\n{source}")
        paths.append(path.parent)
    return paths


class PeakMemory:
    """Samples the summed PSS of a process tree (the child and all its descendants): pages shared
    by several processes count once, shared out between them.

    A sample costs the kernel a walk of each process's page tables (~4 ms a process here: ~30 ms
    for a batch's tree), which the batch pays: sampled every 0.1 s with every process's status
    read, it took ~20% of a core and made a 100-submission batch 12-14% slower on 2 CPUs. So the
    tree is found through ``/proc/PID/task/TID/children``, a sample is taken every 0.25 s, and the
    sampling thread runs at the lowest priority."""

    INTERVAL_S = 0.25

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.peak = proc, 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree_rss(self) -> int:
        total, stack = 0, [self.proc.pid]
        while stack:
            pid = stack.pop()
            total += _pss(pid)
            stack += _children(pid)
        return total

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # this thread only (Linux)
        except OSError:
            pass
        while self.proc.poll() is None:
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(self.INTERVAL_S)


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid``."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _pss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def timed(command: list[str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    memory = PeakMemory(proc)
    out, _ = proc.communicate()
    return time.perf_counter() - start, memory.peak, subprocess.CompletedProcess(command, proc.returncode, out)


def grader_count(bin_dir: Path) -> int:
    """How many tests rnn's graders run per submission."""
    proc = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "--collect-only", "-q", "-p",
                           "dlgrade.grading.plugin", "-p", "no:cacheprovider", str(REPO / "autograder" / "rnn")],
                          capture_output=True, text=True, cwd=REPO)
    return sum(1 for line in proc.stdout.splitlines() if "::" in line)


def otter_zip(folder: Path, count: int) -> Path:
    """A plain Otter autograder with ``count`` tests of the same assignment (run in Otter's kernel)."""
    tests = folder / "tests"
    tests.mkdir(parents=True)
    kinds = itertools.islice(itertools.cycle(["LSTMCell", "GRUCell", "LSTM"]), count)
    for i, kind in enumerate(kinds):
        (tests / f"q{i}.py").write_text(OTTER_TESTS.format(i=i, kind=kind))
    (folder / "requirements.txt").write_text("torch\n")
    subprocess.run([sys.executable, "-m", "otter", "generate", "--tests-dir", "tests", "--no-config",
                    "--requirements", "requirements.txt", "-o", "autograder.zip"], cwd=folder, check=True,
                   capture_output=True)
    return folder / "autograder.zip"


def gradescope_layout_run(autograder: Path, submission: Path, root: Path) -> tuple[float, int]:
    """Seconds and peak PSS of what Gradescope runs per submission: the zip in ``source/``, the file in
    ``submission/``, then ``python source/run_otter.py`` (pointed at ``root``)."""
    import zipfile

    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    (root / "submission" / submission.name).write_bytes(submission.read_bytes())
    script = root / "source" / "run_here.py"
    script.write_text((root / "source" / "run_otter.py").read_text().replace('"/autograder"', repr(str(root))))
    seconds, peak, proc = timed([sys.executable, str(script)], root)
    if not (root / "results" / "results.json").exists():
        raise SystemExit(proc.stdout)
    return seconds, peak


def floor(n: int, folder: Path) -> tuple[float, float]:
    """Wall and CPU seconds per submission of the floor of a batch of ``n``: every request rnn's
    graders make (all of them, the hidden ones too, as recorded against the reference) answered
    by the reference in this process, with no worker (no fork, confinement, wire or second
    process), and judged by the trusted side's code (:func:`~dlgrade.grading.scoring.score_submission`).

    Per submission, as a worker does: the reference is loaded afresh (compiled and run as a
    module, like a submission's code), each distinct request is answered once
    (:func:`dlgrade.exposed.execute.run`: a module built fresh per request, the forbidden-call
    tracker on), and each check is judged. What the batch does beyond it is the workers (fork,
    confinement, load, wire), the source scan, and the diagnosis of failing checks."""
    from dlgrade.authoring.mistakes import module_from_source
    from dlgrade.exposed import execute
    from dlgrade.exposed.tensorio import Fingerprints
    from dlgrade.grading.child import record_public_checks
    from dlgrade.grading.scoring import score_submission
    from dlgrade.handout.checks import load_checks

    import torch

    torch.set_num_threads(1)  # as in a worker (and the trusted side's small comparisons gain nothing from more)
    assignment = get_assignment("rnn")
    path = folder / "rnn_all_checks.json"
    record_public_checks(assignment, path, everything=True)
    tests = load_checks(path).tests
    reference = ReferenceOracle(assignment)
    key = Fingerprints()

    def one() -> None:
        namespace = module_from_source(assignment.reference_source, "rnn", "rnn.py").__dict__
        answers: dict[str, dict] = {}

        def ask(request: dict) -> dict:
            k = key(request)
            if k not in answers:
                answers[k] = execute.run(namespace, request, assignment.forbidden)
            return answers[k]

        results = score_submission(tests, reference, ask, diagnose=ask)
        if any(r.score != r.max_score for r in results):
            raise SystemExit(f"the floor's reference failed a test: {[r.name for r in results if r.score != r.max_score]}")

    one()  # warm: the request keys and the judging's lazily loaded parts, as a grading session has them
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        one()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def grade_batch(bin_dir: Path, tmp: Path, name: str, subs: list[Path], jobs: int | None) -> tuple[float, int, int]:
    """Seconds, peak PSS and the number of results.json files of one ``dlgrade grade`` run."""
    out = tmp / name
    options = ["--jobs", str(jobs)] if jobs else []
    seconds, peak, proc = timed([str(bin_dir / "dlgrade"), "grade", "--assignment", "rnn", "--out", str(out),
                                 *options, *map(str, subs)], tmp)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout)
    return seconds, peak, sum(1 for s in subs if (out / s.name / "results.json").exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="submissions in the dlgrade batch")
    parser.add_argument("--otter-runs", type=int, default=3, help="submissions timed with otter run")
    parser.add_argument("--jobs", type=int, help="dlgrade grade --jobs (default: dlgrade's own)")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    small = max(1, args.n // 4)
    with tempfile.TemporaryDirectory(prefix="dlgrade-bench-") as tmp:
        tmp = Path(tmp)
        subs = submissions(tmp / "subs", args.n)
        seconds, peak, graded = grade_batch(bin_dir, tmp, "out", subs, args.jobs)
        floor_s, floor_cpu = floor(args.n, tmp)  # right after the batch: the machine as it was
        small_s, small_peak, _ = grade_batch(bin_dir, tmp, "out-small", subs[:small], args.jobs)
        single, single_peak, _ = grade_batch(bin_dir, tmp, "one", subs[:1], args.jobs)
        check, check_peak, _ = timed([str(bin_dir / "dlgrade"), "check", str(subs[0] / "rnn.py")], tmp)
        autograder = otter_zip(tmp / "otter", grader_count(bin_dir))
        built = subprocess.run([str(bin_dir / "dlgrade"), "build", "--assignment", "rnn", "--out", str(tmp / "dist")],
                               capture_output=True, text=True, cwd=tmp)
        if built.returncode != 0:
            raise SystemExit(built.stdout + built.stderr)
        ours = tmp / "dist" / "rnn" / "autograder.zip"
        otter_times, ours_times, gradescope_times, otter_peak, ours_peak = [], [], [], 0, 0
        for i in range(args.otter_runs):  # in pairs, so that both see the same machine load
            for zip_path, times, which in ((autograder, otter_times, "plain"), (ours, ours_times, "ours")):
                run_dir = tmp / f"otter-run-{which}-{i}"
                run_dir.mkdir()
                t, p, proc = timed([str(bin_dir / "otter"), "run", "-a", str(zip_path), "-o", str(run_dir),
                                    "--no-logo", str(subs[0] / "rnn.py")], run_dir)
                if not (run_dir / "results.json").exists():
                    raise SystemExit(proc.stdout)
                times.append(t)
                if which == "plain":
                    otter_peak = max(otter_peak, p)
                else:
                    ours_peak = max(ours_peak, p)
            gradescope_times.append(gradescope_layout_run(ours, subs[0] / "rnn.py", tmp / f"gradescope-{i}"))
    otter_each = sum(otter_times) / len(otter_times)
    ours_each = sum(ours_times) / len(ours_times)
    gradescope_each = statistics.median(t for t, _ in gradescope_times)
    gradescope_peak = max(p for _, p in gradescope_times)
    gradescope_ratio = statistics.median(o / p for o, p in zip(ours_times, otter_times))
    per_sub = seconds / args.n

    def row(what: str, count: str, each: float, peak_bytes: int, versus: str) -> tuple[str, ...]:
        return (what, count, f"{each * 1000:.0f} ms", f"{1 / each:.2f}/s", f"{peak_bytes / 2**20:.0f} MiB", versus)

    rows = [
        row("dlgrade grade, batch", f"{args.n} ({graded} graded)", per_sub, peak, f"{otter_each / per_sub:.1f}x"),
        row("dlgrade grade, batch", f"{small}", small_s / small, small_peak, f"{otter_each * small / small_s:.1f}x"),
        ("floor: reference in-process, no worker", f"{args.n}", f"{floor_s * 1000:.0f} ms", f"{1 / floor_s:.2f}/s", "",
         f"{otter_each / floor_s:.1f}x; batch is {per_sub / floor_s:.2f}x it"),
        row("dlgrade grade, 1 cold", "1", single, single_peak, f"{single / otter_each:.2f} of otter"),
        row("dlgrade check, cold", "1", check, check_peak, ""),
        row("otter run", f"{args.otter_runs}", otter_each, otter_peak, "1.0x"),
        row("otter run, dlgrade's zip", f"{args.otter_runs}", ours_each, ours_peak, f"{gradescope_ratio:.2f} of otter"),
        row("Gradescope's run_otter.py", f"{args.otter_runs}", gradescope_each, gradescope_peak, f"{gradescope_each / otter_each:.2f} of otter"),
    ]
    header = ("what", "submissions", "per submission", "throughput", "peak memory", "vs otter run")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
    print(json.dumps({"n": args.n, "batch_s": round(seconds, 2), "per_submission_ms": round(per_sub * 1000),
                      "throughput_vs_otter": round(otter_each / per_sub, 1), "otter_run_ms": round(otter_each * 1000),
                      "single_cold_ms": round(single * 1000), "single_vs_otter": round(single / otter_each, 2),
                      "otter_run_ours_ms": round(ours_each * 1000), "otter_run_ours_vs_otter": round(gradescope_ratio, 2),
                      "gradescope_path_ms": round(gradescope_each * 1000),
                      "gradescope_path_vs_otter": round(gradescope_each / otter_each, 2),
                      "check_cold_ms": round(check * 1000), "batch_peak_mib": round(peak / 2**20),
                      "floor_ms": round(floor_s * 1000, 1), "floor_cpu_ms": round(floor_cpu * 1000, 1),
                      "batch_vs_floor": round(per_sub / floor_s, 2),
                      "small_batch_peak_mib": round(small_peak / 2**20), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
