"""The zygote: imports torch and the worker once, then forks one confined worker per submission.

Started by :class:`dlgrade.supervisor.forkserver.Forkserver` inside the sandbox a worker gets
(the policy's tier, :mod:`dlgrade.supervisor.policy`); it holds nothing secret. For each request
on its control socket (the worker's socket, a status socket and the submission file, passed as
file descriptors) it forks the worker into a new PID namespace, where the worker is PID 1
(killing it kills everything the student started). The worker confines itself step by step
before any student code exists in it (:func:`dlgrade.worker.confinement.confine`), then serves
requests (:func:`dlgrade.worker.server.serve`; the limits come with the first one).

The zygote reaps its workers and reports each one's exit status on its status socket. Without
PID namespaces (the container tier) each worker runs as a uid of its own, the zygote is their
subreaper, and when a worker exits everything left running as its uid is killed (:func:`sweep`),
as is everything of every uid it used when the zygote stops. A uid is claimed for one worker at a
time across every zygote of the machine (:class:`UidClaims`: a lock file per uid), so that a sweep
never hits another session's worker.
"""
from __future__ import annotations

import fcntl
import gc
import json
import os
import select
import signal
import socket
import sys
import time
import traceback

from dlgrade.worker import confinement, server, syscalls


def warm_up() -> None:
    """Run what every worker runs once, so lazily loaded parts of torch are loaded here, not in
    each worker (the first ``autograd.grad`` with ``grad_outputs`` alone costs about 0.3 s)."""
    import torch

    from dlgrade.exposed import execute, filters, wire

    filters.preload()
    torch.set_num_threads(1)
    namespace = {"Layer": torch.nn.Linear}
    for dtype in ("float32", "float64"):
        x = torch.randn(2, 3, dtype=execute.DTYPES[dtype]).tanh().softmax(-1)
        request: wire.CallRequest = {"op": wire.Op.CALL, "target": "Layer",
                                     "init": {"in_features": 3, "out_features": 2}, "dtype": dtype, "args": [x],
                                     "grad_outputs": [torch.ones(2, 2, dtype=x.dtype)]}
        execute.run(namespace, request, {"lstm_cell": "nn.LSTMCell"})
        execute.run(namespace, {"op": wire.Op.INSPECT, "target": "Layer", "method": "forward"}, {})


def main(argv: list[str]) -> None:
    """``main([CONTROL_FD, SCRATCH_ROOT, CONFINEMENT])``: serve fork requests until the control
    socket closes; ``CONFINEMENT`` is the JSON of :meth:`dlgrade.supervisor.policy.Policy.confinement`."""
    control = socket.socket(fileno=int(argv[0]))
    scratch_root, rules = argv[1], confinement.Rules.from_json(argv[2])
    warm_up()
    gc.collect()
    gc.freeze()  # keep the imported objects out of the children's garbage collections (no copy-on-write)
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if rules.has_namespaces and rules.own_pid else None
    by_uid = rules.mode == "container" and os.geteuid() == 0
    if by_uid:  # orphans of the workers come back here, to be reaped, instead of to PID 1
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    uids: dict[int, int] = {}  # worker pid -> its uid (container tier)
    claims = UidClaims(*rules.uids) if by_uid else None
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)  # a child's exit wakes the select below
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    status_fds: dict[int, int] = {}  # worker pid -> the socket its exit status goes to
    control.send(b"ready")
    count = 0
    while True:
        readable, _, _ = select.select([control, wake_r], [], [])
        if wake_r in readable:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass  # drained
            _reap(status_fds, uids, claims)
        if control not in readable:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, 4096, 4)
        except OSError:
            message = b""
        if not message:
            for uid in set(uids.values()):
                sweep(uid)
            if by_uid:
                _reap_orphans()
            return
        count += 1
        worker_fd, status_fd, *rest = fds
        uid = rules.uid
        try:
            if claims is not None:
                uid = claims.claim()  # swept already: nothing of an earlier worker runs as it
            if own_pid_ns is not None:  # the next child is PID 1 of a new PID namespace
                syscalls.setns(own_pid_ns, syscalls.CLONE_NEWPID)
                syscalls.unshare(syscalls.CLONE_NEWPID)
            pid = os.fork()
        except OSError:
            pid = -1  # the grader sees the worker's socket close
        if pid == 0:
            try:
                # nothing of the zygote's: not the control socket, nor the exit-status sockets of
                # the other workers still running (one could forge their exit status)
                held = claims.fds() if claims is not None else []
                for fd in (control.fileno(), wake_r, wake_w, status_fd, own_pid_ns, *status_fds.values(), *held):
                    if fd is not None:
                        os.close(fd)
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _worker(worker_fd, rest[0] if rest else None, json.loads(message), scratch_root, rules, count, uid)
            finally:
                os._exit(70)
        for fd in (worker_fd, *rest):
            os.close(fd)
        if pid > 0:
            status_fds[pid] = status_fd
            if claims is not None:
                uids[pid] = uid
        else:
            os.close(status_fd)
            if claims is not None:
                claims.release(uid)


def _reap(status_fds: dict[int, int], uids: dict[int, int], claims: UidClaims | None) -> None:
    """Collect every exited worker (and orphan), send a worker's exit status to the grader, and
    kill whatever is left running as its uid."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in uids:
            uid = uids.pop(pid)
            sweep(uid)
            if claims is not None:
                claims.release(uid)
        fd = status_fds.pop(pid, None)
        if fd is not None:
            try:
                os.write(fd, str(os.waitstatus_to_exitcode(status)).encode())
            except OSError:
                pass  # the grader has stopped listening
            os.close(fd)


def _reap_orphans(limit_s: float = 2.0) -> None:
    """Before the zygote goes: wait for every child and orphan it holds (killed by the sweeps),
    so none is left as a zombie of whatever process is PID 1 (in a container, often one that
    reaps nothing)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


SWEEP_PASSES = 3
CLAIMS_DIR = "/run/dlgrade-uids"


class UidClaims:
    """The worker uids this zygote holds: uid ``u`` is ours while we hold an exclusive lock on
    ``CLAIMS_DIR/u`` (a zygote that dies releases its claims with it)."""

    def __init__(self, first: int, count: int) -> None:
        self.first, self.count = first, count
        self._held: dict[int, int] = {}  # uid -> lock file descriptor
        # a random start: zygotes that cannot see each other's claims (two containers on one host
        # share uids) rarely pick the same uid
        self._next = int.from_bytes(os.urandom(4), "little") % count
        os.makedirs(CLAIMS_DIR, mode=0o700, exist_ok=True)

    def claim(self) -> int:
        """A free uid, swept of anything a crashed session left running as it."""
        for _ in range(self.count):
            uid = self.first + self._next
            self._next = (self._next + 1) % self.count
            if uid in self._held:
                continue
            fd = os.open(os.path.join(CLAIMS_DIR, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # another session's worker
            self._held[uid] = fd
            sweep(uid)
            return uid
        raise OSError("every worker uid is in use")

    def release(self, uid: int) -> None:
        fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)

    def fds(self) -> list[int]:
        return list(self._held.values())




def sweep(uid: int) -> None:
    """Kill every process running as ``uid``: a child becomes that uid and signals all it may
    (``kill(-1)``), a few passes so that a process forked during one dies in the next."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(SWEEP_PASSES):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break  # nothing left
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _worker(worker_fd: int, file_fd: int | None, spec: dict, scratch_root: str, rules: confinement.Rules,
            count: int, uid: int) -> None:
    """The worker process: confine itself, then serve the grader's requests."""
    try:
        sock = confinement.confine(worker_fd, file_fd, spec.get("file"), scratch_root, rules, count, uid)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(71)
    try:
        server.serve(sock)
    finally:
        os._exit(0)
