"""The student's local check where POSIX's process pieces do not exist (Windows; macOS lacks some).

Where a child cannot inherit a descriptor, the worker connects back to a loopback listener and
sends a one-time token first (:class:`dlgrade.exposed.platform_support.Rendezvous`); where there
are no process groups only the worker itself is killed; without ``resource`` or ``/proc`` the
rlimits that need them are skipped; without uids the tier is ``plain``.

The first tests force that path in this process. The others run ``python -m dlgrade check`` for
real with an interpreter from which those pieces are gone: a throwaway venv whose
``sitecustomize`` takes them away in every process it starts, the checker and the worker it
starts with ``python -I`` (which ignores PYTHONPATH but still runs ``sitecustomize``; a ``.pth``
makes torch, numpy and this repository's dlgrade importable).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import dlgrade
from conftest import bare_python, installed_packages
from dlgrade.authoring.registry import get_assignment
from dlgrade.errors import WorkerError
from dlgrade.exposed import platform_support, protocol
from dlgrade.exposed.platform_support import Rendezvous
from dlgrade.supervisor import tier
from dlgrade.supervisor.client import WorkerClient
from dlgrade.supervisor.launcher import launch
from dlgrade.supervisor.policy import POLICY, Mode
from dlgrade.supervisor.processes import count_processes
from dlgrade.supervisor.submission import Chunk, Submission
from dlgrade.worker import limits

REPO = Path(dlgrade.__file__).resolve().parents[1]
RNN = get_assignment("rnn")
CHECKS = RNN.template_dir / RNN.checks_filename


def call(target: str, *args) -> dict:
    return {"op": "call", "target": target, "init": None, "dtype": "float32", "method": "forward",
            "args": list(args), "kwargs": {}, "grad_outputs": None, "state_dict": None}


def portable_client(source: str, **kwargs) -> WorkerClient:
    """A client whose workers (the first and every restart) take the connect-back path."""
    return WorkerClient(Submission("t", [Chunk("t.py", source)]), "rnn", {},
                        spawn=lambda path: launch(path, portable=True), **kwargs)


# -- the connect-back, forced here ----------------------------------------------------------------

def test_the_token_decides_which_connection_is_the_worker():
    rendezvous = Rendezvous()
    port = rendezvous.listener.getsockname()[1]
    silent = socket.create_connection((platform_support.LOOPBACK, port))
    impostor = socket.create_connection((platform_support.LOOPBACK, port))
    protocol.send(impostor, {"token": "0" * len(rendezvous.token)})
    worker = socket.create_connection((platform_support.LOOPBACK, port))
    protocol.send(worker, {"token": rendezvous.token})
    silent.close()  # an end of file before any token: refused at once
    accepted = rendezvous.accept(5, alive=lambda: True)
    try:
        protocol.send(accepted, {"hello": 1})
        assert protocol.receive(worker) == {"hello": 1}
        impostor.settimeout(5)
        assert impostor.recv(1) == b""  # refused: closed without a word
        with pytest.raises(OSError):  # the listener is closed once the worker is in
            socket.create_connection((platform_support.LOOPBACK, port), timeout=2)
    finally:
        for sock in (accepted, impostor, worker):
            sock.close()


def test_a_wrong_token_alone_times_out_and_a_worker_that_ended_is_not_waited_for():
    rendezvous = Rendezvous()
    impostor = socket.create_connection(("127.0.0.1", rendezvous.listener.getsockname()[1]))
    protocol.send(impostor, {"token": "not it"})
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        rendezvous.accept(1, alive=lambda: True)
    impostor.close()
    with pytest.raises(EOFError):
        Rendezvous().accept(30, alive=lambda: False)
    assert time.monotonic() - start < 10


def test_a_connect_back_worker_answers_times_out_and_restarts():
    source = "import os\ndef f(x):\n    return x * 2, os.getpid()\ndef spin(x):\n    while True: pass\n"
    with portable_client(source, call_timeout=1.0) as client:
        client.ensure_started()
        worker = client._worker
        assert worker.rendezvous is None and worker.sock.type == socket.SOCK_STREAM
        assert worker.sock.family == socket.AF_INET  # the loopback connection, not a socket pair
        out, pid = client.request(call("f", torch.ones(2)))["out"]
        assert torch.equal(out, torch.full((2,), 2.0)) and pid == worker.proc.pid
        with pytest.raises(WorkerError, match="timed out after 1 s"):
            client.request(call("spin", torch.ones(1)))
        assert not worker.running()
        assert torch.equal(client.request(call("f", torch.ones(1)))["out"][0], torch.full((1,), 2.0))


def test_an_impostor_on_the_port_does_not_get_the_code(monkeypatch):
    """As on Windows, in this process: no process groups (the worker alone is killed) and no
    prctl (the worker gets no confinement rules); a program that connects to the listener first,
    with a wrong token, is refused and reads nothing."""
    monkeypatch.setattr(platform_support, "process_groups", lambda: False)
    monkeypatch.setattr(platform_support, "has_prctl", lambda: False)
    launched = launch(None, portable=True)
    assert not launched.own_session and launched.proc.args[-1].startswith("tcp:")  # no RULES after the address
    port = int(launched.rendezvous.address.split(":")[1])
    impostor = socket.create_connection(("127.0.0.1", port))
    protocol.send(impostor, {"token": "guess"})
    client = WorkerClient(Submission("t", [Chunk("t.py", "SECRET = 1\ndef f(x): return x + SECRET\n")]), "rnn", {},
                          launched=launched)
    with client:
        assert torch.equal(client.request(call("f", torch.zeros(1)))["out"], torch.ones(1))
        impostor.settimeout(5)
        assert impostor.recv(1 << 16) == b""
        proc = launched.proc
    assert proc.returncode is not None  # killed by Popen.kill and reaped
    impostor.close()


def test_a_worker_stopped_before_it_connects_leaves_nothing():
    launched = launch(None, portable=True)
    launched.stop()
    assert launched.proc.returncode is not None and launched.rendezvous.listener.fileno() == -1


def test_without_uids_or_proc_the_tier_is_plain_and_the_limits_need_neither(monkeypatch):
    monkeypatch.setattr(platform_support, "effective_uid", lambda: None)
    assert tier.mode() is Mode.PLAIN and POLICY.worker_uid(Mode.PLAIN) is None
    assert tier.describe().startswith("tier none") and count_processes(None) == 0
    monkeypatch.setattr(platform_support, "has_proc", lambda: False)
    wanted = limits.wanted(POLICY.limits.to_message(0))
    assert "RLIMIT_AS" not in wanted and "RLIMIT_NPROC" not in wanted and wanted["RLIMIT_CORE"] == 0
    assert count_processes(0) == 0


# -- the real command, with an interpreter that has no POSIX process pieces -------------------------

SITECUSTOMIZE = '''\
"""Take away what Windows lacks, before anything else runs in this interpreter's processes."""
import os
import signal
import subprocess
import sys

# the POSIX process pieces dlgrade's check must do without; torch imports without them (checked)
for _name in ("geteuid", "getuid", "killpg", "setsid", "fork", "setuid", "setgid", "setgroups"):
    if hasattr(os, _name):
        delattr(os, _name)
for _name in ("resource", "fcntl"):
    sys.modules[_name] = None  # import fails
_KILL = signal.SIGKILL
del signal.SIGKILL
_popen_init = subprocess.Popen.__init__


def _windows_popen(self, *args, pass_fds=(), start_new_session=False, **kwargs):
    assert not pass_fds, "pass_fds not supported on Windows."  # what Windows' Popen says
    # Windows ignores start_new_session; refused here to show the check does not rely on a session
    assert not start_new_session, "no sessions here"
    _popen_init(self, *args, **kwargs)


subprocess.Popen.__init__ = _windows_popen
subprocess.Popen.kill = lambda self: self.send_signal(_KILL)  # Windows: TerminateProcess
'''

POSIX_PIECES = ("geteuid", "getuid", "killpg", "setsid", "fork")
# appended to each submission: loading it fails, saying so, if the worker still has a POSIX piece
PROBE = textwrap.dedent(f'''
    import importlib as _importlib, os as _os, signal as _signal
    _left = [_n for _n in {POSIX_PIECES!r} if hasattr(_os, _n)] + (["SIGKILL"] if hasattr(_signal, "SIGKILL") else [])
    for _module in ("resource", "fcntl"):
        try:
            _importlib.import_module(_module)
            _left.append(_module)
        except ImportError:
            pass
    if _left:
        raise RuntimeError(f"POSIX pieces in the worker: {{_left}}")
''')


@pytest.fixture(scope="module")
def portable_python(tmp_path_factory) -> Path:
    """A venv's python whose every process lacks the POSIX pieces (see :data:`SITECUSTOMIZE`)."""
    return bare_python(tmp_path_factory.mktemp("portable") / "venv", [*installed_packages(), str(REPO)], SITECUSTOMIZE)


def check(python: Path, folder: Path, source: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m dlgrade check rnn.py`` in ``folder`` on ``source`` with the probe appended."""
    (folder / "rnn.py").write_text(source + PROBE)
    return subprocess.run([python, "-m", "dlgrade", "check", "rnn.py", "--assignment", "rnn", "--checks", str(CHECKS),
                           *args], cwd=folder, capture_output=True, text=True, timeout=300)


def test_the_probe_sees_the_pieces_where_they_are():
    """Positive control: the probe fails in an ordinary interpreter (and so would fail the load)."""
    proc = subprocess.run([sys.executable, "-I", "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert "POSIX pieces in the worker: ['geteuid'" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_without_the_pieces_the_checker_takes_the_portable_path_and_the_notebook_path_imports(portable_python):
    script = (
        "import os, dlgrade.handout.checks\n"
        "from dlgrade.exposed import platform_support as p\n"
        "from dlgrade.supervisor import tier\n"
        "assert not hasattr(os, 'killpg') and dlgrade.__file__.startswith(" + repr(str(REPO)) + ")\n"
        "print(p.can_pass_fds(), p.effective_uid(), p.process_groups(), p.rlimits(), tier.mode())\n"
        "print(tier.describe())\n"
    )
    proc = subprocess.run([portable_python, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    features, describe = proc.stdout.splitlines()
    assert features == "False None False None plain"
    assert describe.startswith("tier none")


@pytest.mark.slow
def test_the_reference_passes_every_check(portable_python, tmp_path):
    proc = check(portable_python, tmp_path, RNN.solution_source)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "POSIX pieces" not in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    assert "[FAIL]" not in proc.stdout and proc.stdout.rstrip().endswith("public checks passed.")


@pytest.mark.slow
def test_a_catalogued_mistake_fails_with_its_hint(portable_python, tmp_path):
    mistake = next(m for m in RNN.mistakes if m.id == "lstm_no_tanh_on_cell")
    proc = check(portable_python, tmp_path, mistake.apply(RNN.solution_source))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "POSIX pieces" not in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    assert f"    Hint: {mistake.hint}" in proc.stdout.splitlines(), proc.stdout
    assert "[PASS]" in proc.stdout  # the GRU and the rest are right


@pytest.mark.slow
def test_an_infinite_loop_times_out_and_the_rest_is_checked(portable_python, tmp_path):
    header = "    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:\n"
    source = RNN.solution_source
    assert source.count(header) == 1  # the GRU cell's forward
    start = time.monotonic()
    proc = check(portable_python, tmp_path, source.replace(header, header + "        while True:\n            pass\n"),
                 "--timeout", "2")
    assert time.monotonic() - start < 120
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "POSIX pieces" not in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    assert "timed out after 2 s" in proc.stdout
    failed = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert failed and all("GRUCell" in line for line in failed), proc.stdout
    assert "[PASS]" in proc.stdout
