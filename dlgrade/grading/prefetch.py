"""A submission's worker, asked ahead of the judging so that both CPU cores work at once.

Every submission of a batch gets the same requests (the graders' recorded checks, see
:mod:`dlgrade.grading.scoring`), kept as a :class:`RequestPlan`. A :class:`AnswerPrefetcher`
sends its worker the whole plan from a background thread as soon as it starts -- for the next
submissions too, while the trusted process still judges the current one -- and the judging reads
the answers as they come. A request not in the plan is sent when asked, after the plan's;
identical requests are answered once per submission.

So a worker answers each planned request in plan order, including requests of checks that are
never judged because an earlier check of their test failed: only code that keeps state between
calls could tell.

What a submission's answers may hold in all, while they wait to be judged, is bounded
(:data:`KEPT_BYTES`; each answer by :data:`dlgrade.exposed.protocol.FROM_WORKER`): past it, the
worker is stopped and the checks not answered yet fail, saying why. The answers go when the
submission is judged.
"""
from __future__ import annotations

import threading
from typing import Any

import torch

from dlgrade.errors import WorkerError
from dlgrade.exposed import protocol, wire
from dlgrade.exposed.tensorio import Fingerprints
from dlgrade.supervisor.client import WorkerClient
from dlgrade.supervisor.submission import Submission


KEPT_BYTES = protocol.ANSWERS_PER_SUBMISSION  # a submission's answers, all together (the reference's: under 1 MB)


def answer_bytes(value: Any) -> int:
    """About what ``value`` (a decoded answer) costs: its tensors' bytes and its strings' lengths,
    each occurrence counted."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(answer_bytes(k) + answer_bytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(answer_bytes(v) for v in value)
    return 8


class RequestPlan:
    """The distinct requests sent so far in this session, in the order first sent, each encoded
    once for every worker (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[tuple[str, dict]] = []
        self._encoded: dict[str, bytes] = {}
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self.key = Fingerprints()  # a request's key: its content (requests are not modified once made)

    def add(self, key: str, request: dict) -> None:
        encoded = protocol.encode(request)
        with self._lock:
            if key not in self._known:
                self._known.add(key)
                self._items.append((key, request))
                self._encoded[key] = encoded

    def encoded(self, key: str) -> bytes | None:
        """The request's bytes on the wire (None until it is in the plan)."""
        with self._lock:
            return self._encoded.get(key)

    def snapshot(self) -> list[tuple[str, dict]]:
        with self._lock:
            return list(self._items)


class AnswerPrefetcher:
    """A submission, its worker (none when the submission could not be read) and its answers."""

    def __init__(self, submission: Submission, client: WorkerClient | None, plan: RequestPlan,
                 kept_bytes: int = KEPT_BYTES) -> None:
        from dlgrade.judging.source_scan import scan_source

        # what the worker cannot change: the forbidden built-ins its source uses, read here
        self.scan = scan_source([(c.label, c.source) for c in submission.chunks], client.forbidden if client else {})
        self.submission = submission
        self.client = client
        self.plan = plan
        self.kept_bytes = kept_bytes
        self._kept = 0
        self._too_much: dict | None = None  # the answer to every request once the answers are too large
        self._answers: dict[str, dict] = {}
        self._pending: set[str] = set()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Start the worker and send it the plan in the background."""
        if self.client is None or self._thread is not None:
            return
        items = self.plan.snapshot()
        self._pending = {key for key, _ in items}
        self._thread = threading.Thread(target=self._prefetch, args=(items,), daemon=True,
                                        name=f"dlgrade-prefetch-{self.submission.name}")
        self._thread.start()

    def _prefetch(self, items: list[tuple[str, dict]]) -> None:
        assert self.client is not None
        try:
            pairs = [(request, self.plan.encoded(key)) for key, request in items]
            for (key, _), answer in zip(items, self.client.stream(pairs)):
                answer = self._kept_answer(answer)
                with self._done:
                    self._answers[key] = answer
                    self._pending.discard(key)
                    self._done.notify_all()
                if self._closed or self._too_much is not None:
                    break
        finally:
            with self._done:
                self._pending.clear()
                self._done.notify_all()

    def _kept_answer(self, answer: dict) -> dict:
        """``answer``, or (once the submission's answers exceed :attr:`kept_bytes`) the error every
        later request gets; the worker is stopped then."""
        assert self.client is not None
        if self._too_much is None:
            self._kept += answer_bytes(answer)
            if self._kept <= self.kept_bytes:
                return answer
            self._too_much = wire.error_answer(wire.Where.RUNNING, self.client.t(
                "worker.too_much", mb=f"{self.kept_bytes / 2**20:g}"))
            self.client.shutdown()
        return self._too_much

    def _ask(self, request: dict, encoded: bytes | None = None) -> dict:
        assert self.client is not None
        if self._too_much is not None:
            return self._too_much
        try:
            return self._kept_answer(self.client.request(request, encoded))
        except WorkerError as exc:  # the student's code broke this call: it fails, the next one restarts
            return wire.error_answer(wire.Where.RUNNING, str(exc))

    def __call__(self, request: dict, planned: bool = True) -> dict:
        """The worker's answer to ``request`` (what the judging asks for), with the forbidden
        built-ins the source scan finds for its target (:mod:`dlgrade.judging.source_scan`). A
        request not in the plan joins it (the next submissions are asked it ahead) unless
        ``planned`` is False."""
        from dlgrade.judging.source_scan import with_scan_findings

        if self.submission.problem:
            return wire.error_answer(wire.Where.READING, self.submission.problem)
        return with_scan_findings(request, self._answer(request, planned), self.scan)

    def diagnose(self, request: dict) -> dict:
        """The answer to a variant of a failing check (:mod:`dlgrade.grading.diagnosis`): asked
        only of submissions that fail that check, so it does not join the plan."""
        return self(request, planned=False)

    def _answer(self, request: dict, planned: bool = True) -> dict:
        key = self.plan.key(request)
        with self._done:
            while key not in self._answers and key in self._pending:
                self._done.wait()
            if key in self._answers:
                return self._answers[key]
        if self._thread is not None:
            self._thread.join()  # the worker answers one request at a time
        answer = self._ask(request)
        self._answers[key] = answer
        if planned:
            self.plan.add(key, request)
        return answer

    def context(self) -> str:
        """What went wrong while loading the code, for the feedback of every failing check."""
        return "\n".join(self.client.load_errors()) if self.client else ""

    def close(self) -> None:
        """Stop the worker (and the background thread with it); drop the answers."""
        self._closed = True
        if self.client is not None:
            self.client.shutdown()
        if self._thread is not None:
            self._thread.join()
        with self._done:
            self._answers.clear()
