"""The trusted side of the worker: start it, send requests, enforce timeouts, restart on death."""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from dlgrade.errors import BudgetExhausted, WorkerError, WorkerTimeout
from dlgrade.exposed import protocol, wire
from dlgrade.exposed.tensorio import DecodeError
from dlgrade.judging.i18n import DEFAULT_LANG, Messages
from dlgrade.supervisor.launcher import launch
from dlgrade.supervisor.submission import Submission
from dlgrade.supervisor.policy import POLICY, Limits

IN_FLIGHT_BYTES = 64 * 1024  # requests sent ahead of the answers: well within a socket's buffer


class Worker(Protocol):
    """A started worker process: :class:`~dlgrade.supervisor.launcher.Launched` (a process of its own)
    or :class:`~dlgrade.supervisor.forkserver.ForkedWorker` (forked by the zygote)."""

    sock: socket.socket
    uid: int

    def handshake(self, timeout: float) -> None: ...
    def processes_in_use(self) -> int: ...
    def running(self) -> bool: ...
    def exit_status(self, timeout: float) -> int | None: ...
    def stop(self) -> None: ...


Spawn = Callable[[Path | None], Worker]


class WorkerClient:
    """Runs one submission's code in a separate process and relays requests to it.

    The worker is started lazily and started again (and the code re-loaded) after it dies, so
    a submission that exits or crashes in one test still gets graded on the others. ``spawn``
    starts a worker (default: a process of its own, sandboxed, hiding ``hide``; a grading session
    passes :meth:`dlgrade.supervisor.forkserver.Forkserver.spawn`); ``launched`` is a worker the
    caller started early, used for the first start. Its errors are in ``lang``.

    ``budget``: the seconds its workers may spend, all together, loading the code and answering
    (each wait for the worker counts, reloads after a crash included; the zygote's start does
    not). Once spent, the worker is stopped and every later request fails with
    :class:`~dlgrade.errors.BudgetExhausted`, saying so.
    """

    def __init__(self, submission: Submission, module_name: str, forbidden: Mapping[str, str],
                 call_timeout: float = POLICY.call_timeout_s, limits: Limits | None = None,
                 hide: tuple[str | Path, ...] = (), launched: Worker | None = None,
                 spawn: Spawn | None = None, lang: str = DEFAULT_LANG, budget: float | None = None) -> None:
        self.submission = submission
        self.t = Messages(lang)
        self.module_name = module_name
        self.forbidden = dict(forbidden)
        self.call_timeout = call_timeout
        self.limits = limits or POLICY.limits
        self.hide = hide
        self._spawn = spawn or (lambda path: launch(path, hide=self.hide))
        self._launched = launched
        self._worker: Worker | None = None
        self._shut = False
        self._load_failure: str | None = None
        self.budget = budget
        self.spent = 0.0  # seconds spent waiting for this submission's workers
        self._budget_failure: str | None = None
        self._outbox = bytearray()  # bytes of requests the worker's socket has not taken yet
        self.load_report: wire.LoadReport | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def _start(self) -> wire.LoadReport:
        if self._shut:
            raise WorkerError(self.t("worker.stopped"))
        launched, self._launched = self._launched, None
        self.close()
        if launched is None:
            launched = self._spawn(self.submission.path)
        self._worker = launched
        try:
            launched.handshake(POLICY.start_timeout_s)
        except (OSError, EOFError):
            self.close()
            raise WorkerError(self.t("worker.not_started")) from None
        self._receive(POLICY.start_timeout_s, self.t("doing.starting"))
        hello: wire.Load = {"module_name": self.module_name, "forbidden": dict(self.forbidden),
                            "limits": self.limits.to_message(launched.processes_in_use()),
                            "chunks": [{"label": c.label, "source": c.source} for c in self.submission.chunks]}
        try:
            report = self._exchange(hello, self.call_timeout, self.t("doing.loading"))
        except WorkerError as exc:  # the code itself hangs or kills the process: do not retry it
            self._load_failure = str(exc)
            raise
        self.load_report = report
        return report

    def ensure_started(self) -> wire.LoadReport:
        """Start the worker if it is not running; return the load report."""
        if self._budget_failure is not None:
            raise BudgetExhausted(self._budget_failure)
        if self._load_failure is not None:
            raise WorkerError(self._load_failure)
        worker = self._worker
        if worker is None or not worker.running():
            return self._start()
        assert self.load_report is not None
        return self.load_report

    def load_errors(self) -> list[str]:
        """What went wrong while the code loaded (a line per failing chunk), in this client's language."""
        errors = (self.load_report or {}).get("errors", [])
        return [self.t("load.error", label=e.get("label"), error=e.get("error")) for e in errors]

    def close(self) -> None:
        """Stop the worker and everything it started; remove its scratch folder."""
        for worker in (self._launched, self._worker):  # the early one may never have been used
            if worker is not None:
                worker.stop()
        self._launched = self._worker = None
        self._outbox.clear()

    def shutdown(self) -> None:
        """Stop the worker for good: no later request starts another one."""
        self._shut = True
        self.close()

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------
    def request(self, request: wire.Request, encoded: bytes | None = None) -> wire.Answer:
        """Send one request (``encoded``: it as :func:`protocol.encode` gives it, when the caller
        has it already); a dead, hung or misbehaving worker raises :class:`WorkerError`."""
        self.ensure_started()
        return self._exchange(encoded or protocol.encode(dict(request)), self.call_timeout, self.t("doing.running"))

    def stream(self, requests: Sequence[tuple[wire.Request, bytes | None]],
               in_flight: int = IN_FLIGHT_BYTES) -> Iterator[wire.Answer]:
        """Answers to ``(request, encoded)`` pairs, in order, keeping requests sent ahead (up to
        ``in_flight`` bytes of them; what the socket does not take yet waits in the outbox, so
        sending never blocks and nothing is lost) so the worker never waits for the next one. Each answer is timed from the previous
        one, like :meth:`request`; a call that breaks the worker gets an error answer (what
        :meth:`request` raises) and the rest go to a new worker. It stops after a call that
        timed out: code that hangs would make each of the rest wait as long."""
        encoded = [data or protocol.encode(dict(request)) for request, data in requests]
        done = 0
        while done < len(encoded):
            try:
                self.ensure_started()
                sent, pending = done, 0
                while done < len(encoded):
                    while sent < len(encoded) and (sent == done or pending + len(encoded[sent]) <= in_flight):
                        self._send(encoded[sent])
                        pending += len(encoded[sent])
                        sent += 1
                    answer = self._receive(self.call_timeout, self.t("doing.running"))
                    pending -= len(encoded[done])
                    done += 1
                    yield answer
            except WorkerError as exc:
                done += 1
                yield wire.error_answer(wire.Where.RUNNING, str(exc))
                if isinstance(exc, WorkerTimeout):
                    return

    def _current(self) -> Worker:
        worker = self._worker  # read once: shutdown() from another thread may clear it
        if worker is None:
            raise WorkerError(self.t("worker.stopped"))
        return worker

    def _send(self, data: bytes) -> None:
        """Queue ``data`` for the worker and send what its socket takes now, without waiting: a
        worker busy with an earlier call may not read for a while, and a request must never be
        lost or block (the rest goes out while :meth:`_receive` waits for an answer)."""
        self._outbox += data
        self._flush(self._current())

    def _flush(self, worker: Worker) -> None:
        """Send as much of the outbox as the socket takes without blocking."""
        worker.sock.settimeout(0.0)
        while self._outbox:
            try:
                sent = worker.sock.send(self._outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._outbox.clear()  # a dead worker shows up as end-of-file in _receive
                return
            del self._outbox[:sent]

    def _exchange(self, message: dict | bytes, timeout: float, doing: str) -> dict:
        self._send(message if isinstance(message, bytes) else protocol.encode(message))
        return self._receive(timeout, doing)

    def _receive(self, timeout: float, doing: str) -> dict:
        """The worker's next answer, within ``timeout`` seconds; queued requests are sent as the
        worker takes them meanwhile."""
        worker = self._current()
        started = time.monotonic()
        left = None if self.budget is None else self.budget - self.spent
        deadline = started + (timeout if left is None else max(0.0, min(timeout, left)))
        try:
            try:
                if deadline <= started:
                    raise TimeoutError
                while self._outbox:
                    try:
                        readable, writable, _ = select.select([worker.sock], [worker.sock], [],
                                                              max(0.0, deadline - time.monotonic()))
                    except ValueError:  # the socket was closed: shutdown() from another thread
                        raise WorkerError(self.t("worker.stopped")) from None
                    if readable:
                        break  # an answer (or the end of the connection) is coming
                    if not writable:
                        raise TimeoutError
                    self._flush(worker)
                response = protocol.receive(worker.sock, protocol.FROM_WORKER, deadline=deadline)  # all by the deadline
            finally:
                self.spent += time.monotonic() - started  # the budget counts every wait for the worker
        except (socket.timeout, TimeoutError):
            self.close()
            if left is not None and left <= timeout:
                self._budget_failure = self.t("worker.budget", seconds=f"{self.budget:g}", doing=doing)
                raise BudgetExhausted(self._budget_failure) from None
            raise WorkerTimeout(self.t("worker.timeout", seconds=f"{timeout:g}", doing=doing)) from None
        except (EOFError, ConnectionError, OSError):
            code = worker.exit_status(timeout=2)  # None: alive but closed its end of the socket
            self.close()
            raise WorkerError(self.t("worker.ended", doing=doing, code=code)) from None
        except (DecodeError, RecursionError, MemoryError) as exc:
            self.close()
            raise WorkerError(self.t("worker.invalid_detail", doing=doing, detail=exc)) from None
        if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
            self.close()
            raise WorkerError(self.t("worker.invalid", doing=doing))
        return response
