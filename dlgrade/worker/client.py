"""The trusted side of the worker: start it, send requests, enforce timeouts, restart on death."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dlgrade
from dlgrade.errors import WorkerError
from dlgrade.submission import Submission
from dlgrade.tensorio import DecodeError
from dlgrade.worker import protocol, sandbox
from dlgrade.worker.limits import Limits

# Start the worker with -I (no user site, no cwd or PYTHONPATH on sys.path) and import exactly the
# dlgrade package this process runs, by file location: nothing beside it becomes importable, and it
# works the same for an installed, an editable or a vendored (student handout) copy.
_BOOT = (
    "import importlib.util, os, sys\n"
    "if sys.argv[3] == 'drop' and os.getuid() == 0:\n"  # root in the sandbox: become nobody first
    "    os.setgroups([]); os.setgid(%d); os.setuid(%d)\n"
    "init = sys.argv[2]\n"
    "spec = importlib.util.spec_from_file_location('dlgrade', init,"
    " submodule_search_locations=[os.path.dirname(init)])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['dlgrade'] = module\n"
    "spec.loader.exec_module(module)\n"
    "from dlgrade.worker.server import main\n"
    "main(sys.argv[1:2])\n"
) % (sandbox.NOBODY, sandbox.NOBODY)
START_TIMEOUT = 60.0  # starting Python and importing torch, before any student code runs
CALL_TIMEOUT = 20.0


def _worker_env(scratch: Path) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(scratch),
           "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    return env


class WorkerClient:
    """Runs one submission's code in a separate process and relays requests to it.

    The worker is started lazily and started again (and the code re-loaded) after it dies, so
    a submission that exits or crashes in one test still gets graded on the others.
    """

    def __init__(self, submission: Submission, module_name: str, forbidden: Mapping[str, str],
                 call_timeout: float = CALL_TIMEOUT, limits: Limits | None = None,
                 hide: tuple[str | Path, ...] = ()) -> None:
        self.submission = submission
        self.module_name = module_name
        self.forbidden = dict(forbidden)
        self.call_timeout = call_timeout
        self.limits = limits or Limits()
        self.hide = hide
        self._load_failure: str | None = None
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._scratch: tempfile.TemporaryDirectory | None = None
        self.load_report: dict | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def _start(self) -> dict:
        self.close()
        self._scratch = tempfile.TemporaryDirectory(prefix="dlgrade-worker-")
        scratch = Path(self._scratch.name)
        if self.submission.path is not None and self.submission.path.is_file():
            (scratch / self.submission.path.name).write_bytes(self.submission.path.read_bytes())
        env = _worker_env(scratch)
        prefix = sandbox.bwrap_command(scratch, env, hide=self.hide)
        drop = prefix is not None and os.geteuid() == 0
        if drop:  # the worker becomes nobody: let it use its scratch folder
            for path in (scratch, *scratch.iterdir()):
                os.chown(path, sandbox.NOBODY, sandbox.NOBODY)
        parent, child = socket.socketpair()
        log = open(scratch / ".worker-output", "wb")
        try:
            self._proc = subprocess.Popen(
                [*(prefix or []), sys.executable, "-I", "-c", _BOOT, str(child.fileno()), dlgrade.__file__,
                 "drop" if drop else "stay"],
                pass_fds=[child.fileno()], cwd=scratch, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        finally:
            child.close()
            log.close()
        self._sock = parent
        self._receive(START_TIMEOUT, "starting the worker")
        hello = {"module_name": self.module_name, "forbidden": self.forbidden,
                 "limits": self.limits.to_message(sandbox.NOBODY if drop else os.geteuid()),
                 "chunks": [{"label": c.label, "source": c.source} for c in self.submission.chunks]}
        try:
            report = self._exchange(hello, self.call_timeout, "loading your code")
        except WorkerError as exc:  # the code itself hangs or kills the process: do not retry it
            self._load_failure = str(exc)
            raise
        self.load_report = report
        return report

    def ensure_started(self) -> dict:
        """Start the worker if it is not running; return the load report."""
        if self._load_failure is not None:
            raise WorkerError(self._load_failure)
        if self._proc is None or self._proc.poll() is not None:
            return self._start()
        assert self.load_report is not None
        return self.load_report

    def close(self) -> None:
        """Stop the worker and everything it started; remove its scratch folder."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._proc.wait()
            self._proc = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------
    def request(self, request: Mapping[str, Any]) -> dict:
        """Send one request; a dead, hung or misbehaving worker raises :class:`WorkerError`."""
        self.ensure_started()
        return self._exchange(dict(request), self.call_timeout, "running your code")

    def _exchange(self, message: dict, timeout: float, doing: str) -> dict:
        assert self._sock is not None
        try:
            protocol.send(self._sock, message)
        except OSError:
            pass  # a dead worker shows up as end-of-file in _receive
        return self._receive(timeout, doing)

    def _receive(self, timeout: float, doing: str) -> dict:
        assert self._sock is not None and self._proc is not None
        self._sock.settimeout(timeout)
        try:
            response = protocol.receive(self._sock)
        except (socket.timeout, TimeoutError):
            self.close()
            raise WorkerError(f"timed out after {timeout:g} s while {doing} (an infinite loop?)") from None
        except (EOFError, ConnectionError, OSError):
            try:
                code = self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:  # alive but closed its end of the socket
                code = None
            self.close()
            raise WorkerError(f"your code ended the worker process while {doing}"
                              f" (exit status {code}; sys.exit, os._exit or a crash?)") from None
        except (DecodeError, RecursionError, MemoryError) as exc:
            self.close()
            raise WorkerError(f"the worker sent an invalid answer while {doing}: {exc}") from None
        if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
            self.close()
            raise WorkerError(f"the worker sent an invalid answer while {doing}")
        return response
