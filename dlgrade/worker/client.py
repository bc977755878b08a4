"""The trusted side of the worker: start it, send requests, enforce timeouts, restart on death."""
from __future__ import annotations

import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlgrade.errors import WorkerError
from dlgrade.submission import Submission
from dlgrade.tensorio import DecodeError
from dlgrade.worker import protocol
from dlgrade.worker.launcher import Launched, launch
from dlgrade.worker.limits import Limits

START_TIMEOUT = 60.0  # starting Python and importing torch, before any student code runs
CALL_TIMEOUT = 20.0


class WorkerClient:
    """Runs one submission's code in a separate process and relays requests to it.

    The worker is started lazily and started again (and the code re-loaded) after it dies, so
    a submission that exits or crashes in one test still gets graded on the others.
    """

    def __init__(self, submission: Submission, module_name: str, forbidden: Mapping[str, str],
                 call_timeout: float = CALL_TIMEOUT, limits: Limits | None = None,
                 hide: tuple[str | Path, ...] = (), launched: Launched | None = None) -> None:
        self.submission = submission
        self.module_name = module_name
        self.forbidden = dict(forbidden)
        self.call_timeout = call_timeout
        self.limits = limits or Limits()
        self.hide = hide
        self._launched = launched  # started early by the caller (see launcher), used for the first start
        self._worker: Launched | None = None
        self._load_failure: str | None = None
        self.load_report: dict | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def _start(self) -> dict:
        launched, self._launched = self._launched, None
        self.close()
        if launched is None:
            launched = launch(self.submission.path, hide=self.hide)
        self._worker = launched
        self._receive(START_TIMEOUT, "starting the worker")
        hello = {"module_name": self.module_name, "forbidden": self.forbidden,
                 "limits": self.limits.to_message(launched.uid),
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
        if self._worker is None or self._worker.proc.poll() is not None:
            return self._start()
        assert self.load_report is not None
        return self.load_report

    def close(self) -> None:
        """Stop the worker and everything it started; remove its scratch folder."""
        for worker in (self._launched, self._worker):  # the early one may never have been used
            if worker is not None:
                worker.stop()
        self._launched = self._worker = None

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
        assert self._worker is not None
        try:
            protocol.send(self._worker.sock, message)
        except OSError:
            pass  # a dead worker shows up as end-of-file in _receive
        return self._receive(timeout, doing)

    def _receive(self, timeout: float, doing: str) -> dict:
        assert self._worker is not None
        worker = self._worker
        worker.sock.settimeout(timeout)
        try:
            response = protocol.receive(worker.sock)
        except (socket.timeout, TimeoutError):
            self.close()
            raise WorkerError(f"timed out after {timeout:g} s while {doing} (an infinite loop?)") from None
        except (EOFError, ConnectionError, OSError):
            try:
                code = worker.proc.wait(timeout=2)
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
