"""The trusted side of the zygote: start it once, then get a confined worker per submission.

A :class:`Forkserver` starts :mod:`dlgrade.worker.zygote` in the sandbox a worker would get
(:func:`dlgrade.supervisor.bwrap.bwrap_command`, hiding the same private folders) and asks it to fork
workers. A forked worker costs a few milliseconds instead of a Python start and ``import torch``
(about 1.5 s here), and is confined just as much: its own mount, PID, network, IPC and UTS
namespaces, a private tmpfs scratch folder, ``nobody`` (or no capabilities), no new privileges,
and the resource limits of :mod:`dlgrade.worker.limits`. Imports no torch.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

from dlgrade.errors import WorkerError
from dlgrade.errors import UsageError
from dlgrade.supervisor import bwrap, tier
from dlgrade.supervisor.launcher import boot_command, worker_env
from dlgrade.supervisor.lockdown import Lockdown
from dlgrade.supervisor.policy import POLICY, SHARED_TEMP, Mode
from dlgrade.supervisor.processes import count_processes

_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid


class ForkedWorker:
    """A worker forked by the zygote: our end of its socket, a pidfd to kill it, its exit status."""

    def __init__(self, sock: socket.socket, status: socket.socket, uid: int, server: Forkserver) -> None:
        self.sock = sock
        self.uid = uid
        self._server = server
        self._status = status
        self._pid: int | None = None
        self._pidfd: int | None = None
        self._exit: int | None = None

    def handshake(self, timeout: float) -> None:
        """Read the worker's first byte and, from the credentials the kernel attaches to it, its
        PID as this process sees it; keep a pidfd so that :meth:`stop` kills exactly that process."""
        self.sock.settimeout(timeout)
        message, ancillary, _, _ = self.sock.recvmsg(1, socket.CMSG_SPACE(_UCRED.size))
        if message != b"R":
            raise EOFError("the worker did not start")
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                self._pid, self.uid, _ = _UCRED.unpack(data[: _UCRED.size])
                self._pidfd = os.pidfd_open(self._pid)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)

    def processes_in_use(self) -> int:
        """What the worker's user runs, estimated without reading /proc each time (see
        :meth:`Forkserver.processes_in_use`)."""
        return self._server.processes_in_use()

    def running(self) -> bool:
        """Whether the worker process is still alive (a pidfd turns readable when it exits)."""
        if self._exit is not None:
            return False
        if self._pidfd is None:  # not started yet
            return True
        return not select.select([self._pidfd], [], [], 0)[0]

    def exit_status(self, timeout: float) -> int | None:
        """The exit status its parent in the zygote reports (negative: killed by that signal)."""
        if self._exit is None:
            self._status.settimeout(timeout)
            try:
                data = self._status.recv(32)
            except (TimeoutError, OSError):
                return None
            try:
                self._exit = int(data)
            except ValueError:
                return None
        return self._exit

    def stop(self) -> None:
        """Kill the worker; as PID 1 of its namespace, everything it started dies with it (in the
        container tier the zygote then kills everything of its uid; in mode ``plain``, its process
        group dies)."""
        if self.sock.fileno() >= 0:
            self._server.stopped()
        self.sock.close()
        if self._pidfd is not None:
            if self._server.mode is Mode.PLAIN and self.running():  # alive: its pid is still its own
                try:
                    os.killpg(self._pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(self._pidfd)
            self._pidfd = None
        self._status.close()


class Forkserver:
    """One zygote for a grading session; :meth:`spawn` gives a fresh confined worker.

    Starting returns at once: the zygote imports torch while the caller goes on, and the first
    :meth:`spawn` waits for it. Thread-safe. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, hide: tuple[str | Path, ...] = ()) -> None:
        self.hide = tuple(hide)
        self._lockdown: Lockdown | None = None
        self._lock = threading.Lock()
        self._folder = tempfile.TemporaryDirectory(prefix="dlgrade-zygote-")
        self._proc: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._live = 0
        self._base_processes: int | None = None
        self._start()

    def _start(self) -> None:
        base = Path(self._folder.name)
        view = base / f"view-{len(list(base.glob('view-*')))}"  # all the zygote may see; a fresh one per start
        (view / "work").mkdir(parents=True)  # each worker mounts its own tmpfs here
        view.chmod(0o755)
        (view / "work").chmod(0o755)
        env = worker_env(view)
        try:
            self.mode = tier.require_confinement()
        except UsageError as exc:
            raise WorkerError(str(exc)) from None
        prefix = bwrap.bwrap_command(view, env, hide=self.hide, keep_admin=True) if self.mode.namespaces else None
        self.uid = POLICY.worker_uid(self.mode)
        if self.mode is Mode.CONTAINER:
            self._close_trusted_places(base, view)
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = open(base / "zygote.log", "ab")
        try:
            self._proc = subprocess.Popen(
                [*(prefix or []), *boot_command("dlgrade.worker.zygote", None, str(theirs.fileno()), str(view),
                                                json.dumps(tier.confinement(self.mode)))],
                pass_fds=[theirs.fileno()], cwd=view, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, start_new_session=True)
        finally:
            theirs.close()
            log.close()
        self._control = control
        self._ready = False

    def confinement(self) -> dict:
        """What results.json records of the tier in force (``extra_data``: students do not see it)."""
        return {"dlgrade_confinement": {"tier": self.mode.tier, "mode": str(self.mode), "how": tier.describe()}}

    def _close_trusted_places(self, base: Path, view: Path) -> None:
        """Container tier: worker uids may reach their scratch folders (search only on the way)
        and the runtime, and nothing else of the trusted side's (:mod:`~dlgrade.supervisor.lockdown`)."""
        for folder in (base, view, view / "work"):
            folder.chmod(0o711)
        if self._lockdown is None:
            try:
                self._lockdown = Lockdown(POLICY.hidden_paths(self.hide), [*POLICY.read_only_paths(), view / "work"],
                                          SHARED_TEMP)
            except OSError as exc:  # e.g. a read-only mount: never grade with the grader's files open
                raise WorkerError(f"the container tier cannot close the grader's files to worker uids: {exc}") from None

    def _wait_ready(self) -> None:
        assert self._control is not None
        self._control.settimeout(POLICY.start_timeout_s)
        try:
            ready = self._control.recv(16)
        except (TimeoutError, OSError):
            ready = b""
        if ready != b"ready":
            raise WorkerError(f"the worker sandbox did not start: {self._log_tail()}")
        self._control.settimeout(None)
        self._ready = True

    def ready(self) -> None:
        """Wait until the zygote can fork workers; :class:`WorkerError` if it could not start
        (then no submission can be graded: the caller should fail the run, not the students)."""
        with self._lock:
            if not self._ready:
                self._wait_ready()

    def _log_tail(self) -> str:
        path = Path(self._folder.name) / "zygote.log"
        lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        return lines[-1] if lines else "no output"

    def spawn(self, submission_file: Path | None = None) -> ForkedWorker:
        """A new worker whose scratch folder holds a copy of ``submission_file``."""
        ours, child = socket.socketpair()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        status, status_child = socket.socketpair()
        fds = [child.fileno(), status_child.fileno()]
        spec: dict[str, str | None] = {"file": None}
        file_fd = None
        if submission_file is not None and submission_file.is_file():
            file_fd = os.open(submission_file, os.O_RDONLY)
            fds.append(file_fd)
            spec["file"] = submission_file.name
        try:
            with self._lock:
                self._send(json.dumps(spec).encode(), fds)
        finally:
            child.close()
            status_child.close()
            if file_fd is not None:
                os.close(file_fd)
        with self._lock:
            self._live += 1
        return ForkedWorker(ours, status, self.uid, self)

    def processes_in_use(self) -> int:
        """Processes and threads of the workers' user: what it ran when the first worker was
        forked, plus three for each live worker (it, its parent in the zygote, one to spare)."""
        if self.mode is Mode.CONTAINER:
            return 1  # each worker is a uid of its own, which ran nothing before it
        with self._lock:
            if self._base_processes is None:
                self._base_processes = count_processes(self.uid)
            return self._base_processes + 3 * self._live

    def stopped(self) -> None:
        """A worker was stopped."""
        with self._lock:
            self._live = max(0, self._live - 1)

    def _send(self, message: bytes, fds: list[int]) -> None:
        for attempt in (1, 2):  # a zygote that died (the machine ran out of memory?) is started again
            if self._proc is None or self._proc.poll() is not None:
                self._stop_zygote()
                self._start()
            if not self._ready:
                self._wait_ready()
            assert self._control is not None
            try:
                socket.send_fds(self._control, [message], fds)
                return
            except OSError:
                if attempt == 2:
                    raise WorkerError("the worker sandbox stopped and could not be restarted") from None
                self._stop_zygote()

    def _stop_zygote(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None:
            if self.mode is Mode.CONTAINER:  # the zygote kills every worker uid it used, then exits
                try:
                    self._proc.wait(timeout=POLICY.start_timeout_s / 6)
                except subprocess.TimeoutExpired:
                    pass
            if self._proc.poll() is None:
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        """Stop the zygote (its sandbox and every worker still in it) and remove its folders."""
        with self._lock:
            self._stop_zygote()
            if self._lockdown is not None:
                self._lockdown.close()
                self._lockdown = None
        self._folder.cleanup()

    def __enter__(self) -> Forkserver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
