"""The zygote: imports torch and the worker once, then forks one confined worker per submission.

Started by :class:`dlgrade.supervisor.forkserver.Forkserver` inside the same sandbox a worker gets
(:mod:`dlgrade.supervisor.sandbox`); it holds nothing secret. For each request on its control socket
(the worker's socket, a status socket and the submission file, passed as file descriptors) it
forks the worker into a new PID namespace, where the worker is PID 1 (killing it kills everything
the student started). Before any student code exists in it, the worker:

1. moves into new mount, IPC and UTS namespaces (workers cannot see one another's files or
   shared memory) and mounts a private, size-limited tmpfs as its scratch folder and a ``/proc``
   that shows only its own PID namespace (the network namespace, with nothing but loopback, is
   the zygote's);
2. copies in the submission file, sends its stdout/stderr to a file in the scratch folder, drops
   to ``nobody`` (as root) or drops every capability (in a user namespace), and sets
   no-new-privileges;
3. serves requests (:func:`dlgrade.worker.server.serve`; the limits come with the first one).

The zygote reaps its workers and reports each one's exit status on its status socket.

Modes: ``drop`` (root in bwrap), ``caps`` (a user in bwrap's user namespace) and ``plain`` (no
bwrap: a forked process with its own scratch folder and the resource limits only).
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
import traceback

from dlgrade.worker import server
from dlgrade.worker import syscalls as confine

NOBODY = 65534
SANDBOXED_MODES = ("drop", "caps")
SCRATCH_TMPFS = "size=64m,nr_inodes=4096,mode=0700"


def warm_up() -> None:
    """Run what every worker runs once, so lazily loaded parts of torch are loaded here, not in
    each worker (the first ``autograd.grad`` with ``grad_outputs`` alone costs about 0.3 s)."""
    import torch

    from dlgrade.exposed import execute

    torch.set_num_threads(1)
    namespace = {"Layer": torch.nn.Linear}
    for dtype in ("float32", "float64"):
        x = torch.randn(2, 3, dtype=execute.DTYPES[dtype]).tanh().softmax(-1)
        request = {"op": "call", "target": "Layer", "init": {"in_features": 3, "out_features": 2},
                   "dtype": dtype, "args": [x], "grad_outputs": [torch.ones(2, 2, dtype=x.dtype)]}
        execute.run(namespace, request, {"lstm_cell": "nn.LSTMCell"})
        execute.run(namespace, {"op": "inspect", "target": "Layer", "method": "forward"}, {})


def main(argv: list[str]) -> None:
    """``main([CONTROL_FD, SCRATCH_ROOT, MODE])``: serve fork requests until the control socket closes."""
    control = socket.socket(fileno=int(argv[0]))
    scratch_root, mode = argv[1], argv[2]
    warm_up()
    gc.collect()
    gc.freeze()  # keep the imported objects out of the children's garbage collections (no copy-on-write)
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if mode in SANDBOXED_MODES else None
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
            _reap(status_fds)
        if control not in readable:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, 4096, 4)
        except OSError:
            return
        if not message:
            return
        count += 1
        worker_fd, status_fd, *rest = fds
        try:
            if own_pid_ns is not None:  # the next child is PID 1 of a new PID namespace
                confine.setns(own_pid_ns, confine.CLONE_NEWPID)
                confine.unshare(confine.CLONE_NEWPID)
            pid = os.fork()
        except OSError:
            pid = -1  # the grader sees the worker's socket close
        if pid == 0:
            try:
                # nothing of the zygote's: not the control socket, nor the exit-status sockets of
                # the other workers still running (one could forge their exit status)
                for fd in (control.fileno(), wake_r, wake_w, status_fd, own_pid_ns, *status_fds.values()):
                    if fd is not None:
                        os.close(fd)
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _worker(worker_fd, rest[0] if rest else None, json.loads(message), scratch_root, mode, count)
            finally:
                os._exit(70)
        for fd in (worker_fd, *rest):
            os.close(fd)
        if pid > 0:
            status_fds[pid] = status_fd
        else:
            os.close(status_fd)


def _reap(status_fds: dict[int, int]) -> None:
    """Collect every exited worker and send its exit status to the grader."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status_fds.pop(pid, None)
        if fd is not None:
            try:
                os.write(fd, str(os.waitstatus_to_exitcode(status)).encode())
            except OSError:
                pass  # the grader has stopped listening
            os.close(fd)


def _worker(worker_fd: int, file_fd: int | None, spec: dict, scratch_root: str, mode: str, count: int) -> None:
    """The worker process: confine itself, then serve the grader's requests."""
    try:
        os.setsid()  # its own process group: without a PID namespace, the grader kills that
        if mode in SANDBOXED_MODES:
            workdir = os.path.join(scratch_root, "work")
            # its own mounts, System V IPC (which would outlive it) and host name; the network
            # namespace (loopback only) stays the zygote's: one per worker costs ~7 ms of CPU
            confine.unshare(confine.CLONE_NEWNS | confine.CLONE_NEWIPC | confine.CLONE_NEWUTS)
            confine.mount(None, "/", None, confine.MS_REC | confine.MS_PRIVATE)
            confine.mount("tmpfs", workdir, "tmpfs", confine.MS_NOSUID | confine.MS_NODEV, SCRATCH_TMPFS)
            confine.mount("proc", "/proc", "proc", confine.MS_NOSUID | confine.MS_NODEV | confine.MS_NOEXEC)
        else:
            workdir = os.path.join(scratch_root, f"worker-{count}")
            os.mkdir(workdir, 0o700)
        paths = [workdir]
        name = spec.get("file")
        if file_fd is not None and name and os.path.basename(name) == name and name not in (".", ".."):
            target = os.path.join(workdir, name)
            with os.fdopen(file_fd, "rb") as source, open(target, "wb") as copy:
                copy.write(source.read())
            paths.append(target)
        elif file_fd is not None:
            os.close(file_fd)
        output = os.path.join(workdir, ".worker-output")
        log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(devnull)
        paths.append(output)
        os.chdir(workdir)
        os.environ.update(HOME=workdir, TMPDIR=workdir)
        if mode == "drop" and os.geteuid() == 0:
            for path in paths:
                os.chown(path, NOBODY, NOBODY)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        elif mode == "caps":
            confine.drop_capabilities()
        confine.no_new_privileges()
        sock = socket.socket(fileno=worker_fd)
        sock.send(b"R")  # the grader reads this process's pid from the credentials the kernel attaches
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(71)
    try:
        server.serve(sock)
    finally:
        os._exit(0)
