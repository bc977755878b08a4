"""Every assignment in ``ASSIGNMENTS`` against the same hostile submissions, through ``dlgrade grade``.

``tests/test_adversarial.py`` attacks ``rnn`` at rnn-specific places; this file builds its attacks
only from what every assignment has (:func:`dlgrade.authoring.registry.get_assignment`): the reference
(``reference_source``), the handed-out stub (``template_dir / <module>.py``), the questions'
targets (a class whose ``forward`` students write, or a function), ``solution_path``,
``graders_dir`` and ``root``. An assignment added to the registry is covered without a change here.

Each assignment is graded as **one** batch (``--timeout 3``): the plain reference (first and last)
and the stub, then the hostile submissions, each a complete file. The rules:

* an attack on the stub scores exactly 0 (the stub does);
* an attack on the reference scores no more than the reference, test by test; one that breaks a
  single target (``SystemExit``, a memory bomb or an infinite loop in it) scores, test by test,
  exactly what the reference with that target left unimplemented (``notimpl_<target>``, a control
  in the same batch) scores: it loses the tests that call the target and keeps the others;
* one that breaks the whole submission (an exit, a hang or a memory bomb at import, ``os._exit``
  in every target) scores 0;
* a hang costs one timeout for each test it fails; a call that stalls past the timeout once fails
  the test(s) making it with a timeout and nothing else (every later answer still goes with its
  own request); a worker holds no descriptor but its own socket;
* every results.json is well formed and unchanged after the command returns, nothing forged
  reaches the grader's output or any results file, the listener the test opens sees nothing, no
  process of the run is left and the scratch folders are gone.

A positive control runs the reading attack outside the sandbox: there it finds the reference and
replaces every target with it. The helpers (the submission prelude, the listener, running a command
and looking at what it left, several attacks' code) come from ``test_adversarial``. Holes are
``xfail(strict=True)`` tests that assert the secure behaviour (``HOLES``).
"""
from __future__ import annotations

import ast
import csv
import json
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from test_adversarial import (
    BIN,
    FAKE_RESULTS,
    FAKE_STDOUT_HEAD,
    LYING_TENSOR,
    MARK,
    NETWORK,
    PATCH_COMPARISONS,
    PRELUDE,
    RUN_LIMIT_S,
    AttackSucceeded,
    Listener,
    Run,
    _forged_files,
    clean_env,
    context,
    execute,
    outputs,
    scores,
)

from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment
from conftest import NEEDS_CONFINEMENT, unreadable_error
from feedback_attacks import attacks as feedback_attacks
from feedback_attacks import targets as feedback_targets
from forbidden_attacks import attacked_target
from forbidden_attacks import attacks as forbidden_attacks
from dlgrade.supervisor.policy import POLICY

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(**NEEDS_CONFINEMENT),
]

TIMEOUT = 3  # --timeout: seconds per call into student code
PARALLEL = 2  # assignments graded at once


# -- what every assignment has -----------------------------------------------------------------------
targets = cache(feedback_targets)  # each question's target: "class" (its forward) or "function"


def stub_path(assignment: Assignment) -> Path:
    return assignment.template_dir / f"{assignment.module_name}.py"


def grader_files(assignment: Assignment) -> list[Path]:
    return sorted(p for p in assignment.graders_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


# -- the submissions ---------------------------------------------------------------------------------
# after test_adversarial's PRELUDE (TOKEN, MARK, OUT, NAME, REPO, PORT, ..., _note, _read, _REPORT)
GENERIC_PRELUDE = '''\
ASSIGNMENT = {assignment!r}
TARGETS = {targets!r}  # name -> "class" (its forward) or "function"
SOLUTION = {solution!r}
GRADER_FILES = {grader_files!r}
ROOT = {root!r}


def _replace_targets(make, only=None):
    """Each target (a class's forward, or the function) becomes make(name, original), same signature."""
    import functools

    namespace = globals()
    for name, kind in TARGETS.items():
        if only is not None and name != only:
            continue
        original = namespace[name].forward if kind == "class" else namespace[name]
        replacement = functools.wraps(original)(make(name, original))
        if kind == "class":
            namespace[name].forward = replacement
        else:
            namespace[name] = replacement


def _attack_report(*args, **kwargs):
    raise RuntimeError("ATTACK-REPORT " + _report_page())
'''

# a target of the reference does this first, then its work
IN_TARGETS = '''
def _hostile(name, original):
    def hostile(*args, **kwargs):
{action}
        return original(*args, **kwargs)
    return hostile


_replace_targets(_hostile, only={only!r})
'''

ACTIONS = {
    "notimpl": 'raise NotImplementedError(f"control: {name} left as handed out")',
    "sysexit": "raise SystemExit(0)",
    "os_exit": "import os\nos._exit(0)",
    "loop": "while True:\n    pass",
    "stall": f"if not _STALLS:\n    _STALLS.append(1)\n    if _requests_waiting(0.5):\n"
             f"        import time\n        time.sleep({TIMEOUT + 1})",
    "memory": "import torch\nhog = torch.empty(10 * 1024 ** 3, dtype=torch.uint8)  # 10 GB\nhog[0] = hog[-1] = 1",
}

# the first call into any target in a worker stalls past the timeout, but only while the grader has
# more requests queued on the worker's socket (it sends ahead): once, in the first worker
STALL_HELPERS = '''
import gc as _gc
import select as _select
import socket as _socket

_STALLS = []


def _requests_waiting(wait):
    """Whether a request is queued on the worker's socket (the grader sends ahead)."""
    own = [s for s in _gc.get_objects() if isinstance(s, _socket.socket) and s.fileno() >= 0]
    return bool(own) and bool(_select.select(own, [], [], wait)[0])
'''

# the worker's first answer goes out a few bytes at a time, each piece well within the timeout,
# the whole well past it: the per-call timeout must be a deadline for the whole answer
TRICKLE = f'''
import time as _time
import dlgrade.exposed.protocol as _protocol
_send_whole = _protocol.send
_TRICKLED = []


def _trickle(sock, message, *args, **kwargs):
    if _TRICKLED or not (isinstance(message, dict) and "out" in message):
        return _send_whole(sock, message, *args, **kwargs)
    _TRICKLED.append(1)
    data = _protocol.encode(message)
    pieces = 12
    step = len(data) // pieces + 1
    for start in range(0, len(data), step):
        sock.sendall(data[start:start + step])
        _time.sleep({TIMEOUT} * 1.5 / pieces)


_protocol.send = _trickle
'''

# a stub whose targets report the descriptors the worker holds besides its own socket
FD_SCAN = '''
import gc as _gc
import os as _os
import socket as _socket


def _descriptors():
    own = {s.fileno() for s in _gc.get_objects() if isinstance(s, _socket.socket) and s.fileno() >= 0}
    others = []
    for fd in range(3, 1024):
        try:
            _os.fstat(fd)
        except OSError:
            continue
        if fd not in own:
            try:
                others.append(f"{fd}={_os.readlink(f'/proc/self/fd/{fd}')}")
            except OSError as exc:
                others.append(f"{fd}={type(exc).__name__}")
    return f"own socket {sorted(own)}; other descriptors: {', '.join(others) or 'none'}"


def _report_descriptors(*args, **kwargs):
    raise RuntimeError("ATTACK-REPORT " + _descriptors())


_replace_targets(lambda name, original: _report_descriptors)
'''


# on top of test_adversarial's PATCH_COMPARISONS
PATCH_MORE = '''
import builtins as _builtins
import operator as _operator

for _name in dir(numpy.testing):
    if _name.startswith("assert_"):
        setattr(numpy.testing, _name, _silent)

_builtins.all = _builtins.any = lambda *args, **kwargs: True
_builtins.abs = lambda *args, **kwargs: 0.0
_builtins.max = _builtins.min = lambda *args, **kwargs: 0.0
_operator.eq = _operator.le = _operator.ge = lambda *args, **kwargs: True
_operator.ne = _operator.lt = _operator.gt = lambda *args, **kwargs: False
'''

# the stub's targets return NaN: only patched comparisons could call that right
RETURN_NAN = '''
import torch as _torch

_replace_targets(lambda name, original: lambda *args, **kwargs: _torch.full((1,), float("nan")))
'''

# test_adversarial's _Liar (a Tensor subclass equal and close to everything, in torch functions too)
LIAR_CLASS = LYING_TENSOR[:LYING_TENSOR.index("\n\ndef _lie(")]

LIES = "import torch\n" + LIAR_CLASS + '''


class _AnySize(tuple):
    """A shape equal to every shape."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = tuple.__hash__


class _ShapeLiar(_Liar):
    @property
    def shape(self):
        return _AnySize((1,))

    def size(self, *args):
        return _AnySize((1,)) if not args else 1

    def __array__(self, *args, **kwargs):
        import numpy
        return numpy.zeros(1)


class _LyingObject:
    """Not a tensor: equal, close, any shape, an array, a sequence of lying tensors."""

    shape = _AnySize((1,))
    dtype = torch.float32

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def allclose(self, *args, **kwargs):
        return True

    equal = allclose

    def __array__(self, *args, **kwargs):
        import numpy
        return numpy.zeros(1)

    def __len__(self):
        return 2

    def __getitem__(self, index):
        if isinstance(index, int) and not -2 <= index < 2:
            raise IndexError(index)
        return _lying_tensor()

    def __iter__(self):
        return iter([_lying_tensor(), _lying_tensor()])

    def __float__(self):
        return 0.0

    def size(self, *args):
        return self.shape


def _lying_tensor():
    return torch.zeros(1).as_subclass(_ShapeLiar)
'''

RETURN_LYING_TENSOR = LIES + "\n\n_replace_targets(lambda name, original: lambda *args, **kwargs: _lying_tensor())\n"
RETURN_LYING_OBJECT = LIES + "\n\n_replace_targets(lambda name, original: lambda *args, **kwargs: _LyingObject())\n"

# after the stub: find the reference anywhere, exec it over the stub; else the targets report
READ_AND_EXEC = '''
import ast as _ast
import glob as _glob
import os as _os

_SKIP = {".git", ".venv", "venv", "__pycache__", "node_modules"}


def _files_under(top):
    found = []
    for folder, dirs, files in _os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP)
        found += [_os.path.join(folder, f) for f in sorted(files)]
    return found


def _defines_every_target(text):
    try:
        tree = _ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    names = {n.name for n in tree.body if isinstance(n, (_ast.ClassDef, _ast.FunctionDef))}
    return set(TARGETS) <= names and 'raise NotImplementedError("TODO' not in text  # not a stub


_kit = "dlgrade_kit/solutions/" + ASSIGNMENT + ".py"
_paths = [SOLUTION, "/autograder/source/files/" + _kit]
for _pattern in ("/autograder/source/**/" + _kit, "/tmp/*/" + _kit, "/tmp/*/*/" + _kit,
                 "/tmp/*/*/*/files/" + _kit, "/work/*/solutions/" + ASSIGNMENT + ".py",
                 "/home/*/*/solutions/" + ASSIGNMENT + ".py", "/root/*/solutions/" + ASSIGNMENT + ".py"):
    _paths += _glob.glob(_pattern, recursive=True)[:20]
_walked = _note("walk " + ROOT, lambda: _files_under(ROOT))
_paths += _walked if isinstance(_walked, list) else []



def _quietly_read(path):
    try:
        return _read(path) if _os.path.getsize(path) < 2_000_000 else None
    except BaseException:
        return None


_STOLEN = []
_read_ok = 0
for _path in dict.fromkeys(_paths):
    if _path == SOLUTION:
        _text = _note("read " + _path, lambda p=_path: _read(p))
    else:
        _text = _quietly_read(_path)
    if not isinstance(_text, str):
        continue
    _read_ok += 1
    if _defines_every_target(_text):
        try:
            exec(compile(_text, "stolen:" + _path, "exec"), globals())
            _STOLEN.append(_path)
            break
        except BaseException as _exc:
            _REPORT.append(f"exec {_path}: {type(_exc).__name__}")
_REPORT.append(f"read {_read_ok} files under {ROOT} and elsewhere")

_leaks = []
for _path in GRADER_FILES:
    _text = _note("read grader " + _path, lambda p=_path: _read(p))
    if isinstance(_text, str):
        _leaks.append(_text[:3000])
_REPORT.append("LEAKED: " + " ".join(_leaks))  # out through the error message below

if not _STOLEN:
    _REPORT.append("stole nothing")
    _replace_targets(lambda name, original: _attack_report)
'''

# after the stub, with FAKE_STDOUT_HEAD's _shout: every call shouts the forged results, then reports
SHOUT_AND_REPORT = '''

def _shout_and_report(*args, **kwargs):
    _shout()
    _attack_report()


_replace_targets(lambda name, original: _shout_and_report)
'''


@dataclass(frozen=True)
class Hostile:
    """A submission: the reference or the stub (``base``) with ``head`` before it and ``tail`` after.

    ``expect``: ``"zero"``; ``"reference"`` (no test scores more than the reference's); the name
    of a control in the batch that it must match test by test; or ``"timeouts"`` (see
    :func:`test_a_call_over_the_timeout_fails_only_where_it_is`).
    """

    name: str
    base: str
    expect: str
    what: str
    head: str = ""
    tail: str = ""

    def source(self, assignment: Assignment, ctx: dict) -> str:
        base = assignment.reference_source if self.base == "ref" else stub_path(assignment).read_text()
        prelude = PRELUDE.format(name=self.name, **ctx) + GENERIC_PRELUDE.format(
            assignment=assignment.name, targets=targets(assignment.name), solution=str(assignment.solution_path),
            grader_files=[str(p) for p in grader_files(assignment)], root=str(assignment.root))
        return (prelude + self.head + f"\n# ---- base: {self.base} ----\n" + base + "\n# ---- tail ----\n"
                + self.tail)


def in_targets(action: str, only: str | None = None) -> str:
    return IN_TARGETS.format(action="\n".join(" " * 8 + line for line in ACTIONS[action].splitlines()), only=only)


def loop_target(name: str) -> str:
    """The target that gets the infinite loop: the last question's. One target only: each test that
    calls it costs a full timeout."""
    return list(targets(name))[-1]


@cache
def hostiles(name: str) -> dict[str, Hostile]:
    """The batch of ``name``'s attacks (controls included), by submission name."""
    items = [
        Hostile("sys_exit_at_import", "ref", "zero", "sys.exit(0) before the reference",
                head="import sys\nsys.exit(0)\n"),
        Hostile("os_exit_at_import", "ref", "zero", "os._exit(0) before the reference", head=ACTIONS["os_exit"] + "\n"),
        Hostile("loop_at_import", "ref", "zero", "while True before the reference", head="while True:\n    pass\n"),
        Hostile("memory_at_import", "ref", "zero", "a 10 GB tensor before the reference",
                head=ACTIONS["memory"] + "\n"),
        Hostile("os_exit_in_every_target", "ref", "zero", "os._exit(0) in every target of the reference",
                tail=in_targets("os_exit")),
    ]
    for target in targets(name):
        items += [
            Hostile(f"notimpl_{target}", "ref", "reference", f"control: the reference, {target} as handed out",
                    tail=in_targets("notimpl", target)),
            Hostile(f"sysexit_{target}", "ref", f"notimpl_{target}", f"raise SystemExit(0) in {target}",
                    tail=in_targets("sysexit", target)),
            Hostile(f"memory_{target}", "ref", f"notimpl_{target}", f"a 10 GB tensor in {target}",
                    tail=in_targets("memory", target)),
        ]
    looping = loop_target(name)
    items += [
        Hostile(f"loop_{looping}", "ref", f"notimpl_{looping}", f"while True in {looping}",
                tail=in_targets("loop", looping)),
        Hostile("stall_first_call", "ref", "timeouts", f"the reference; its first call into a target stalls "
                f"{TIMEOUT + 1} s once, while the grader has requests queued", head=STALL_HELPERS,
                tail=in_targets("stall")),
        Hostile("trickle_first_answer", "ref", "timeouts", f"the reference; its first answer is sent in 12 "
                f"pieces over {TIMEOUT * 1.5:g} s (timeout {TIMEOUT} s)", head=TRICKLE),
        Hostile("patch_comparisons", "stub", "zero",
                "torch/numpy comparisons, Tensor.__eq__, builtins and operator patched; the targets return NaN",
                head=PATCH_COMPARISONS + PATCH_MORE, tail=RETURN_NAN),
        Hostile("lying_tensor", "stub", "zero", "every target returns a Tensor subclass equal, close and "
                "shaped like anything", tail=RETURN_LYING_TENSOR),
        Hostile("lying_object", "stub", "zero", "every target returns an object whose __eq__, allclose, "
                "__array__, shape and len lie", tail=RETURN_LYING_OBJECT),
        Hostile("read_reference", "stub", "zero", "reads solution_path, the kit's copies, every file under "
                "root and the graders; execs what defines the targets", tail=READ_AND_EXEC),
        Hostile("fake_results", "stub", "zero", "prints full-marks results JSON and writes results.json into "
                "--out, ../, /autograder/results, /tmp, ~", head=FAKE_RESULTS + FAKE_STDOUT_HEAD,
                tail=SHOUT_AND_REPORT),
        Hostile("network", "ref", "reference", "TCP/UDP to the test's listener on loopback and this host's "
                "addresses, an abstract unix socket", head=NETWORK),
        Hostile("fd_scan", "stub", "zero", "lists the descriptors its worker holds (forked while the "
                "previous submissions' workers are alive)", tail=FD_SCAN),
    ]
    return {h.name: h for h in items}


def batch_names(name: str) -> list[str]:
    return ["ref", "stub", *hostiles(name), "ref_end"]


# -- the runs ----------------------------------------------------------------------------------------
def grade_assignment(name: str, root: Path, listener: Listener) -> Run:
    assignment = get_assignment(name)
    folder = root / name
    run = Run(name, folder, folder / "out", folder / "tmp", names=batch_names(name), label=f"advg{name[:8]}")
    ctx = context(run.out, listener, run.label)
    subs = folder / "subs"
    subs.mkdir(parents=True)
    paths = []
    for sub in run.names:
        path = subs / f"{sub}.py"
        if sub in ("ref", "ref_end"):
            path.write_text(assignment.reference_source)
        elif sub == "stub":
            path.write_text(stub_path(assignment).read_text())
        else:
            path.write_text(hostiles(name)[sub].source(assignment, ctx))
        paths.append(path)
    command = [str(BIN / "dlgrade"), "grade", "--assignment", name, "--out", str(run.out),
               "--timeout", str(TIMEOUT), *map(str, paths)]
    return execute(run, command, clean_env())


def selected_assignments(request: pytest.FixtureRequest) -> list[str]:
    """The assignments the selected tests of this module are about (``-k`` may leave some out:
    their batches are then not graded)."""
    wanted = {item.callspec.params.get("name") for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")}
    return [name for name in ASSIGNMENTS if name in wanted] or list(ASSIGNMENTS)


@pytest.fixture(scope="module")
def session(tmp_path_factory, request):
    """Every selected assignment's batch, PARALLEL at a time, started at once; tests wait for theirs."""
    root = tmp_path_factory.mktemp("adversarial_assignments")
    listener = Listener("-assignments")
    pool = ThreadPoolExecutor(max_workers=PARALLEL)
    futures: dict[str, Future] = {name: pool.submit(grade_assignment, name, root, listener)
                                  for name in selected_assignments(request)}
    yield {"root": root, "listener": listener, "futures": futures}
    pool.shutdown(wait=True)
    runs = [f.result() for f in futures.values() if f.exception() is None]
    for run in runs:  # shown with -s
        print(f"{run.key}: {len(run.names)} submissions in {run.elapsed:.1f} s")
    listener.close()
    for path in _forged_files(runs):  # an attack that got through leaves nothing behind
        path.unlink(missing_ok=True)


def _batch(session, name: str) -> Run:
    run = session["futures"][name].result(timeout=RUN_LIMIT_S * 2)
    assert run.proc is not None and run.proc.returncode == 0, f"{name}: {run.log()}"
    return run


def assert_valid(results: dict, reference: dict, where: str) -> None:
    """Gradescope's format, the reference's tests (names, points, visibility), nothing forged."""
    tests = results.get("tests")
    assert isinstance(tests, list), (where, results)
    assert [(t.get("name"), t.get("max_score"), t.get("visibility")) for t in tests] == \
        [(t["name"], t["max_score"], t["visibility"]) for t in reference["tests"]], where
    for test in tests:
        assert isinstance(test.get("output"), str) and test["output"], (where, test)
        assert isinstance(test.get("score"), (int, float)) and 0 <= test["score"] <= test["max_score"], (where, test)
        assert test.get("status") in ("passed", "failed"), (where, test)
        assert (test["status"] == "passed") == (test["score"] == test["max_score"]), (where, test)
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests)), where
    assert MARK not in json.dumps(results), f"{where}: forged results came through"


def full_marks(results: dict) -> float:
    return sum(t["max_score"] for t in results["tests"])


def failed(results: dict) -> list[dict]:
    return [t for t in results["tests"] if t["status"] != "passed"]


# -- 1. scores ---------------------------------------------------------------------------------------
# Holes these attacks find in dlgrade today: (assignment or "*" for every one, check) -> what gets
# through; each such test is a strict xfail. None today: the three this file found (a request lost
# when a stalled worker's socket was full, so later answers were judged against the wrong checks;
# a hang costing one timeout per request queued behind it; workers holding other workers'
# exit-status sockets) are fixed in dlgrade.supervisor.client and dlgrade.worker.zygote.
HOLES: dict[tuple[str, str], str] = {}


def _param(name: str, key: str, *values: str):
    reason = HOLES.get((name, key)) or HOLES.get(("*", key))
    marks = [pytest.mark.xfail(strict=True, raises=AttackSucceeded, reason=reason)] if reason else []
    return pytest.param(name, *values, marks=marks, id="-".join((name, *values)))


def _cases() -> list:
    return [_param(name, sub, sub) for name in ASSIGNMENTS for sub, hostile in hostiles(name).items()
            if hostile.expect != "timeouts"]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_full_stub_zero(session, name):
    run = _batch(session, name)
    reference = run.results("ref")
    for sub in ("ref", "ref_end"):  # ref_end: the batch went on after every attack
        results = run.results(sub)
        assert_valid(results, reference, f"{name}/{sub}")
        assert not failed(results) and results["score"] == full_marks(results) > 0, \
            f"{name}/{sub} lost points: {[(t['name'], t['output'][:300]) for t in failed(results)]}"
    assert run.results("stub")["score"] == 0, outputs(run.results("stub"))


@pytest.mark.parametrize("name,sub", _cases())
def test_hostile_submission_gains_nothing(session, name, sub):
    hostile = hostiles(name)[sub]
    run = _batch(session, name)
    results, reference = run.results(sub), run.results("ref")
    assert_valid(results, reference, f"{name}/{sub}")
    summary = f"{name}/{sub} ({hostile.what}) scored {results['score']}:\n{outputs(results)[:3000]}"
    if hostile.expect == "zero":
        if results["score"] != 0:
            raise AttackSucceeded(summary)
        return
    if hostile.expect == "reference":
        better = {t: s for t, s in scores(results).items() if s > scores(reference)[t]}
        if better:
            raise AttackSucceeded(f"{summary}\nbeats the reference on {better}")
        return
    control = run.results(hostile.expect)
    assert control["score"] < full_marks(control), f"the control {hostile.expect} must lose points"
    differ = {t: (s, scores(control)[t]) for t, s in scores(results).items() if s != scores(control)[t]}
    if any(s > c for s, c in differ.values()):
        raise AttackSucceeded(f"{summary}\nbeats the control {hostile.expect} on {differ}")
    assert not differ, f"{summary}\nloses more than the control {hostile.expect}: {differ}"


# -- 2. what each attack did, seen from outside -----------------------------------------------------
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_broken_targets_fail_with_the_reason(session, name):
    """SystemExit, the memory limit and the timeout end the calls into the target they are in."""
    run = _batch(session, name)
    for target in targets(name):
        lost = failed(run.results(f"sysexit_{target}"))
        assert lost and all("SystemExit(0)" in t["output"] for t in lost), outputs(run.results(f"sysexit_{target}"))
        lost = failed(run.results(f"memory_{target}"))
        assert lost and all("memory" in t["output"].lower() or "worker" in t["output"] for t in lost), \
            outputs(run.results(f"memory_{target}"))
    lost = failed(run.results(f"loop_{loop_target(name)}"))
    assert lost and all(f"timed out after {TIMEOUT} s while running" in t["output"] for t in lost), \
        outputs(run.results(f"loop_{loop_target(name)}"))


@pytest.mark.parametrize("name", [_param(name, "hang_time") for name in ASSIGNMENTS])
def test_a_hang_costs_one_timeout_per_test_it_breaks(session, name):
    """An infinite loop in a target costs one timeout for each test it fails (the worker is
    restarted for the next), not one more for each request the grader had sent ahead."""
    results = _batch(session, name).results(f"loop_{loop_target(name)}")
    lost, took = len(failed(results)), results["execution_time"]
    if took > (lost + 0.5) * TIMEOUT:
        raise AttackSucceeded(f"{name}: loop_{loop_target(name)} held the grader {took:.1f} s for {lost} failed "
                              f"tests, over {(lost + 0.5) * TIMEOUT:g} s ({lost} timeouts of {TIMEOUT} s and half one)")


@pytest.mark.parametrize("name", [_param(name, "stall_first_call") for name in ASSIGNMENTS])
def test_a_call_over_the_timeout_fails_only_where_it_is(session, name):
    """The reference with one call stalled past the timeout (its first call into a target, while
    the grader has requests queued): the test(s) making that call fail with a timeout, and every
    other answer is still paired with its own request, so every other test passes."""
    results = _batch(session, name).results("stall_first_call")
    lost = failed(results)
    not_timeouts = [(t["name"], t["output"][:400]) for t in lost if f"timed out after {TIMEOUT} s" not in t["output"]]
    if not lost or not_timeouts:
        raise AttackSucceeded(f"{name}: a call stalled {TIMEOUT + 1} s (timeout {TIMEOUT} s) "
                              f"{'failed no test' if not lost else 'made other tests fail'} "
                              f"({results['score']}/{full_marks(results)}): {not_timeouts}")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_an_answer_sent_slowly_is_held_to_its_call_s_deadline(session, name):
    """The timeout covers the whole exchange, not each read: an answer trickled out over 1.5x the
    timeout fails its test(s) with a timeout. Each restarted worker trickles its first answer
    again, so the calls after it time out too, until the submission's time budget is spent and
    the rest fail saying so; none of it counts."""
    results = _batch(session, name).results("trickle_first_answer")
    lost = failed(results)
    said = (f"timed out after {TIMEOUT} s", f"time budget of {TIMEOUT * POLICY.budget_per_timeout:g} s")
    not_timeouts = [(t["name"], t["output"][:400]) for t in lost if not any(s in t["output"] for s in said)]
    if not lost or not_timeouts:
        raise AttackSucceeded(f"{name}: an answer trickled over {TIMEOUT * 1.5:g} s (timeout {TIMEOUT} s) "
                              f"{'counted' if not lost else 'made other tests fail'}: {not_timeouts}")


@pytest.mark.parametrize("name", [_param(name, "worker_fds") for name in ASSIGNMENTS])
def test_a_worker_holds_no_descriptor_but_its_own_socket(session, name):
    """A worker forked while other submissions' workers are alive holds none of their descriptors."""
    text = outputs(_batch(session, name).results("fd_scan"))
    assert "ATTACK-REPORT own socket [" in text, text[:2000]
    if "other descriptors: none" not in text:
        raise AttackSucceeded(f"{name}: {text[:1500]}")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_broken_imports_fail_every_test_with_the_reason(session, name):
    run = _batch(session, name)
    expected = {"sys_exit_at_import": "SystemExit(0)",
                "os_exit_at_import": "ended the worker process while loading",
                "loop_at_import": f"timed out after {TIMEOUT} s while loading",
                "memory_at_import": "memory",
                "os_exit_in_every_target": "ended the worker process while running"}
    for sub, text in expected.items():
        results = run.results(sub)
        # an exception while loading is said once, above the tests, and each test points there; a
        # worker that died or stalled while loading fails each test saying so
        above = text in results["output"]
        said = "error while it was loaded" if above else text
        assert results["score"] == 0 and all(said in t["output"] for t in results["tests"]), \
            f"{sub}:\n{results['output'][:1000]}\n{outputs(results)[:3000]}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reading_the_reference_and_graders_finds_nothing(session, name):
    assignment = get_assignment(name)
    text = outputs(_batch(session, name).results("read_reference"))
    assert "ATTACK-REPORT" in text and "stole nothing" in text, text[:3000]
    assert f"read {assignment.solution_path}: {unreadable_error()}" in text, text[:3000]
    for path in grader_files(assignment):
        assert f"read grader {path}: {unreadable_error()}" in text, text[:3000]
    code = [line.strip() for path in grader_files(assignment) if path.suffix == ".py"
            for line in path.read_text().splitlines() if line.startswith(("def ", "from ", "import "))]
    assert code, "no grader code to look for"
    assert not [line for line in code if line in text], "grader code leaked"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_read_attack_steals_the_reference_outside_the_sandbox(tmp_path, name):
    """Positive control: the same submission, run as a plain process, finds the reference and
    replaces every target with it (graded like that, it would score full marks)."""
    assignment = get_assignment(name)
    listener_ctx = {"token": "x", "out": str(tmp_path), "repo": str(assignment.root), "port": 9, "host_ips": [],
                    "abstract": "none", "label": ""}
    source = hostiles(name)["read_reference"].source(assignment, listener_ctx) + '''
import json
_origin = {n: (globals()[n].forward if k == "class" else globals()[n]).__code__.co_filename for n, k in TARGETS.items()}
print("STOLEN-JSON", json.dumps({"stolen": _STOLEN, "origin": _origin}))
'''
    proc = subprocess.run([sys.executable, "-I", "-c", source], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.split("STOLEN-JSON", 1)[1])
    assert found["stolen"] == [str(assignment.solution_path)], found
    assert set(found["origin"].values()) == {f"stolen:{assignment.solution_path}"}, found


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_forged_results_change_nothing(session, name):
    run = _batch(session, name)
    assert run.results("fake_results")["score"] == 0
    row = next(line.split() for line in run.proc.stdout.splitlines() if line.startswith("fake_results "))
    assert row[1].startswith("0/"), row
    for where, text in (("stdout", run.proc.stdout), ("stderr", run.proc.stderr), ("grading.log", run.log())):
        assert MARK not in text, f"the submission's output reached the grader's {where}"
    changed = [p for p in set(run.files_at_return) | set(run.files_later)
               if run.files_at_return.get(p) != run.files_later.get(p)]
    assert not changed, changed
    forged = [str(p) for p in _forged_files([run])]
    assert not forged, forged


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_results_file_and_the_gradebook_are_valid(session, name):
    run = _batch(session, name)
    names = sorted(p.name for p in run.out.iterdir() if p.is_dir())
    assert names == sorted(run.names), names
    reference = run.results("ref")
    for sub in run.names:
        assert_valid(run.results(sub), reference, f"{name}/{sub}")
    with (run.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        gradebook = {row["name"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert gradebook == {sub: run.results(sub)["score"] for sub in run.names}


def test_no_network_connection_reaches_the_listener(session):
    for name in session["futures"]:  # every batch graded in this run
        _batch(session, name)
    assert not session["listener"].seen, session["listener"].seen


# -- 3. nothing left behind --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_process_or_scratch_folder_is_left(session, name):
    run = _batch(session, name)
    assert not run.left_at_return, "still running when it returned:\n" + "\n".join(map(str, run.left_at_return))
    assert not run.left_later, "still there later:\n" + "\n".join(map(str, run.left_later))
    left = [str(p) for p in run.tmpdir.rglob("*")] if run.tmpdir.exists() else []
    assert not left, left[:20]


# -- one submission cannot end the session for its classmates -----------------------------------------
BREAKERS = {
    "surrogate_message": ("every target raises an exception whose message holds a lone surrogate",
                          'raise RuntimeError("bad byte " + chr(0xDCFF))'),
    "answer_without_out": ("the worker's answers lose their 'out' entry", '''
import dlgrade.exposed.protocol as _protocol
_send = _protocol.send
def _drop_out(sock, message, *args, **kwargs):
    if isinstance(message, dict) and message.get("ok") and "out" in message:
        message = {k: v for k, v in message.items() if k != "out"}
    return _send(sock, message, *args, **kwargs)
_protocol.send = _drop_out
'''),
    "dtype_is_a_list": ("tensor headers give their dtype as a list", '''
import dlgrade.exposed.tensorio as _tensorio
_encode = _tensorio.encode_tensor
def _listed(tensor):
    meta, data = _encode(tensor)
    return dict(meta, dtype=[meta["dtype"]]), data
_tensorio.encode_tensor = _listed
'''),
}


# ways to make the trusted side wait or grow: each between correct submissions (see isolation_batch)
ISOLATION_TIMEOUT = 3  # --timeout of the isolation batch
ISOLATION_BUDGET = 15  # its --budget (the default, POLICY.budget_per_timeout timeouts, is tested in test_batch)
SLOW_CALL_S = ISOLATION_TIMEOUT * 0.8
SLOW_AND_DYING = f"""
_CALLS.append(1)
import time
time.sleep({SLOW_CALL_S})
if len(_CALLS) % 2 == 0:
    import os
    os._exit(0)
"""
ONE_BLOB_MANY_TIMES = '''
import json as _json, struct as _struct
import dlgrade.exposed.protocol as _protocol
_send_whole = _protocol.send
def _one_blob_many_times(sock, message, *args, **kwargs):
    if not (isinstance(message, dict) and "out" in message):
        return _send_whole(sock, message, *args, **kwargs)
    size = 12 * 1024 * 1024
    ref = {"$t": 0, "dtype": "uint8", "shape": [size]}
    body = {"$dict": [["ok", True], ["out", [ref] * 90], ["forbidden", []], ["inputs_after", []], ["printed", ""]]}
    header = _json.dumps({"body": body, "blob_sizes": [size]}).encode()
    sock.sendall(_struct.pack(">I", len(header)) + header + bytes(size))
_protocol.send = _one_blob_many_times
'''
HUGE_ANSWERS = '''
import torch as _torch
import dlgrade.exposed.protocol as _protocol
_send_whole = _protocol.send
def _big_answers(sock, message, *args, **kwargs):
    if isinstance(message, dict) and "out" in message:
        message["inputs_after"] = list(message.get("inputs_after") or []) + [_torch.zeros(15 * 1024 * 1024 // 4)]
    return _send_whole(sock, message, *args, **kwargs)
_protocol.send = _big_answers
'''
# name -> (what it does, code before the reference, code run first in every target)
HOGS = {
    "slow_and_dying": (f"every call into a target takes {SLOW_CALL_S:g} s (just under the timeout) and every "
                       "second one then ends the worker, so it is reloaded and asked again",
                       "_CALLS = []\n", SLOW_AND_DYING),
    "one_blob_many_times": ("every answer is one 12 MB tensor referenced 90 times (1 GB if decoded per "
                            "reference)", ONE_BLOB_MANY_TIMES, ""),
    "huge_answers": ("every answer carries 15 MB more (just under one message's limit), all kept until judged",
                     HUGE_ANSWERS, ""),
}
FEEDBACK_ATTACKS = ("raise_huge.py", "forged_answers.py")  # tests/feedback_attacks.py's, in this batch too


def side_doors(name: str) -> dict[str, str]:
    """tests/forbidden_attacks.py's attacks in this batch (every one, in and out of a worker, is in
    test_forbidden_side_doors): the first aten spelling of each target, and the worker whose answers
    are stripped of what it detected (only the trusted side's scan catches it)."""
    chosen: dict[str, str] = {}
    for attack, source in forbidden_attacks(name).items():
        target = None if attack == "send_patch" else attacked_target(name, attack)
        if target not in {attacked_target(name, a) for a in chosen if a != "send_patch"} and (
                attack == "send_patch" or "aten" in attack or "private" in attack):
            chosen[attack] = source
    return chosen
# the trusted process's peak, whatever workers send: torch, the reference and the graders (about
# 300 MB), plus per submission in flight (--jobs, 3 on 2 CPUs) what dlgrade.grading.prefetch keeps
# (32 MB) and one message being decoded (dlgrade.exposed.protocol.FROM_WORKER)
TRUSTED_PEAK_MB = 700


def isolation_batch(assignment: Assignment, folder: Path) -> list[Path]:
    """[ref, ref, X, ref, ref, Y, ref, ref, ...]: each way to break the trusted side, make it wait
    or make it grow, with two correct submissions on either side; and the reference as a notebook
    whose second cell's tags are a number (it used to fail while loaded ahead, taking the two
    submissions before it along)."""
    folder.mkdir(parents=True)
    reference = assignment.reference_source
    sources = {}
    for name, (_, code) in BREAKERS.items():
        if name == "surrogate_message":
            sources[name] = f"TARGETS = {targets(assignment.name)!r}\n" + reference + in_targets_raw(code)
        else:
            sources[name] = code + "\n" + reference
    for name, (_, head, in_every_target) in HOGS.items():
        tail = f"\nTARGETS = {targets(assignment.name)!r}\n" + in_targets_raw(in_every_target) if in_every_target else ""
        sources[name] = head + "\n" + reference + tail
    sources["trickle"] = TRICKLE + "\n" + reference  # each worker's first answer sent slowly, past the timeout
    for name, source in side_doors(assignment.name).items():  # forbidden built-ins, side doors
        sources[f"forbidden_{name}"] = source
    for name, source in feedback_attacks(assignment.name).items():  # forged and inflated feedback
        if name in FEEDBACK_ATTACKS:
            sources[f"feedback_{Path(name).stem}"] = source
    paths = [folder / "ref_a.py", folder / "ref_b.py"]
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
        paths += [folder / f"{name}.py", folder / f"ref_after_{name}.py", folder / f"ref_after2_{name}.py"]
    cells = [{"cell_type": "code", "metadata": {}, "source": reference, "outputs": [], "execution_count": None},
             {"cell_type": "code", "metadata": {"tags": 5}, "source": "x = 1", "outputs": [], "execution_count": None}]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    tags = folder / "tags_number" / f"{assignment.module_name}.ipynb"
    tags.parent.mkdir()
    tags.write_text(json.dumps(notebook))
    paths += [tags, folder / "ref_y.py", folder / "ref_z.py"]
    for path in paths:
        if path.name.startswith("ref_"):
            path.write_text(reference)
    return paths


def in_targets_raw(action: str) -> str:
    """``action`` run first in every target (without the attack prelude)."""
    helper = GENERIC_PRELUDE[GENERIC_PRELUDE.index("def _replace_targets"):GENERIC_PRELUDE.index("def _attack_report")]
    return "\n" + helper + IN_TARGETS.format(action="\n".join(" " * 8 + line for line in action.splitlines()),
                                             only=None)


@pytest.fixture(scope="module")
def isolation(tmp_path_factory, request):
    """Each selected assignment's isolation batch through ``dlgrade grade`` (default --jobs)."""
    root = tmp_path_factory.mktemp("isolation")

    def grade(name: str) -> tuple[subprocess.CompletedProcess, Path, list[Path]]:
        paths = isolation_batch(get_assignment(name), root / name / "subs")
        out = root / name / "out"
        proc = subprocess.run([str(BIN / "dlgrade"), "grade", "--assignment", name, "--out", str(out),
                               "--timeout", str(ISOLATION_TIMEOUT), "--budget", str(ISOLATION_BUDGET),
                               *map(str, paths)], capture_output=True, text=True, timeout=RUN_LIMIT_S,
                              env=clean_env())
        return proc, out, paths

    names = selected_assignments(request)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return dict(zip(names, pool.map(grade, names)))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_submission_that_breaks_the_trusted_side_fails_alone(isolation, name):
    proc, out, paths = isolation[name]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from dlgrade.batch.entries import submission_name

    for path in paths:
        results_file = out / submission_name(path) / "results.json"
        assert results_file.exists(), f"{path.name}: no results"
        text = results_file.read_text(encoding="utf-8")  # valid UTF-8
        results = json.loads(text)
        assert results["tests"] and sum(t["max_score"] for t in results["tests"]) > 0, (path.name, results)
        if path.name.startswith("ref_") or path.suffix == ".ipynb":  # the notebook is the reference, odd tags and all
            assert full_marks(results) == results["score"], (path.name, outputs(results)[:2000])
        else:
            assert results["score"] < full_marks(results), (path.name, outputs(results)[:2000])
            for test in results["tests"]:
                assert test["output"].strip(), (path.name, test)
    leftovers = [p for p in out.rglob("*.tmp")]
    assert not leftovers, leftovers


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_submission_s_time_is_bounded_by_its_budget(isolation, name):
    """Calls just under the timeout, each second one ending the worker (reloaded and asked again):
    past the budget, the tests not answered score 0, saying so, and the submission took no longer."""
    _, out, _ = isolation[name]
    budget = ISOLATION_BUDGET
    results = json.loads((out / "slow_and_dying" / "results.json").read_text())
    said = [t for t in results["tests"] if f"time budget of {budget:g} s" in t["output"]]
    assert said and all(t["score"] == 0 for t in said), outputs(results)[:3000]
    assert results["execution_time"] <= budget + ISOLATION_TIMEOUT + 2, results["execution_time"]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_trusted_side_s_memory_does_not_follow_what_workers_send(isolation, name):
    """One blob referenced 90 times in an answer, and answers of 15 MB each: refused or bounded,
    so the grading session's peak stays under the bound whatever the workers send."""
    from dlgrade.grading.plugin import PEAK_MEMORY_LINE

    _, out, _ = isolation[name]
    blob = json.loads((out / "one_blob_many_times" / "results.json").read_text())
    assert "too many tensor bytes" in outputs(blob), outputs(blob)[:2000]
    huge = json.loads((out / "huge_answers" / "results.json").read_text())
    assert "MB in all" in outputs(huge), outputs(huge)[:2000]
    log = (out / "grading.log").read_text()
    peaks = [int(line.split(PEAK_MEMORY_LINE, 1)[1].split()[0]) for line in log.splitlines()
             if PEAK_MEMORY_LINE in line]
    assert peaks and max(peaks) <= TRUSTED_PEAK_MB, (peaks, log[-2000:])


@pytest.mark.parametrize("name", [n for n in ASSIGNMENTS if get_assignment(n).forbidden])
def test_a_forbidden_built_in_through_a_side_door_is_caught(isolation, name):
    """aten overloads, private variants, computed getattr, aliases, and a worker whose answers
    are stripped of what it detected: every test calling the rewritten target fails, saying the
    built-in is forbidden (the trusted side's source scan, whatever the worker sends)."""
    _, out, _ = isolation[name]
    assert "send_patch" in side_doors(name), side_doors(name).keys()
    for attack in side_doors(name):
        results = json.loads((out / f"forbidden_{attack}" / "results.json").read_text())
        lost = failed(results)
        assert lost and all("asks you to implement yourself" in t["output"] for t in lost), \
            f"{attack} ({attacked_target(name, attack)}): {results['score']}/{full_marks(results)}\n{outputs(results)[:2000]}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_forged_feedback_in_the_batch_stays_quoted_and_capped(isolation, name):
    from dlgrade.judging.student_text import QUOTE, RESULTS_OUTPUT_BYTES

    _, out, _ = isolation[name]
    for attack in FEEDBACK_ATTACKS:
        path = out / f"feedback_{Path(attack).stem}" / "results.json"
        results = json.loads(path.read_text())
        assert results["score"] < full_marks(results), attack
        assert path.stat().st_size < RESULTS_OUTPUT_BYTES + 64 * 1024, (attack, path.stat().st_size)
        hints = {f"Hint: {m.hint}" for m in get_assignment(name).mistakes}
        ours = [line for t in failed(results) for line in t["output"].splitlines() if not line.startswith(QUOTE)]
        forged = [line for line in ours if line.startswith(("Score:", "passed"))
                  or (line.startswith("Hint:") and line not in hints)]
        assert not forged, (attack, forged[:10])


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_trickled_answer_between_correct_submissions_counts_for_nothing(isolation, name):
    """Every worker's first answer sent in pieces past the timeout: its tests fail with a timeout
    or, once the budget is spent, saying so; the correct submissions around it keep full marks
    (test_a_submission_that_breaks_the_trusted_side_fails_alone)."""
    _, out, _ = isolation[name]
    results = json.loads((out / "trickle" / "results.json").read_text())
    said = (f"timed out after {ISOLATION_TIMEOUT} s", f"time budget of {ISOLATION_BUDGET:g} s")
    lost = failed(results)
    assert lost and all(any(s in t["output"] for s in said) for t in lost), outputs(results)[:2000]
    assert results["execution_time"] <= ISOLATION_BUDGET + ISOLATION_TIMEOUT + 2, results["execution_time"]
