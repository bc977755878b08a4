"""The zygote: imports torch and the worker once, then forks one confined worker per submission.

Started by :class:`dlgrade.worker.forkserver.Forkserver` inside the same sandbox a worker gets
(:mod:`dlgrade.worker.sandbox`); it holds nothing secret. For each request on its control socket
(the worker's socket, a status socket and the submission file, passed as file descriptors) it
forks a child that, before any student code exists in it:

1. moves into new mount and PID namespaces and mounts a private, size-limited tmpfs as its
   scratch folder (so workers cannot see one another's files or processes);
2. forks the worker, which is PID 1 there (killing it kills everything the student started),
   mounts a ``/proc`` that shows only its own namespace, copies in the submission file, sends
   its stdout/stderr to a file in the scratch folder, drops to ``nobody`` (as root) or drops every
   capability (in a user namespace), sets no-new-privileges, and then serves requests
   (:func:`dlgrade.worker.server.serve`; the limits come with the first request);
3. waits for the worker and reports its exit status on the status socket.

Modes: ``drop`` (root in bwrap), ``caps`` (a user in bwrap's user namespace) and ``plain`` (no
bwrap: a forked process with its own scratch folder and the resource limits only).
"""
from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import traceback

from dlgrade.worker import confine, server

NOBODY = 65534
SANDBOXED_MODES = ("drop", "caps")
SCRATCH_TMPFS = "size=64m,nr_inodes=4096,mode=0700"


def warm_up() -> None:
    """Run what every worker runs once, so lazily loaded parts of torch are loaded here, not in
    each worker (the first ``autograd.grad`` with ``grad_outputs`` alone costs about 0.3 s)."""
    import torch

    from dlgrade import execute

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
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    control.send(b"ready")
    count = 0
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 4096, 4)
        except OSError:
            return
        if not message:
            return
        count += 1
        try:
            pid = os.fork()
        except OSError:
            pid = -1  # the trusted side sees the worker's socket close
        if pid == 0:
            try:
                _child(control, fds, json.loads(message), scratch_root, mode, count)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)


def _child(control: socket.socket, fds: list[int], spec: dict, scratch_root: str, mode: str, count: int) -> None:
    """The forked child: confine, fork the worker, report its exit status."""
    control.close()
    worker_fd, status_fd, *rest = fds
    file_fd = rest[0] if rest else None
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    sandboxed = mode in SANDBOXED_MODES
    if sandboxed:
        workdir = os.path.join(scratch_root, "work")
        confine.unshare(confine.CLONE_NEWNS | confine.CLONE_NEWPID)
        confine.mount(None, "/", None, confine.MS_REC | confine.MS_PRIVATE)
        confine.mount("tmpfs", workdir, "tmpfs", confine.MS_NOSUID | confine.MS_NODEV, SCRATCH_TMPFS)
    else:
        workdir = os.path.join(scratch_root, f"worker-{count}")
        os.mkdir(workdir, 0o700)
    pid = os.fork()
    if pid == 0:
        os.close(status_fd)
        _worker(worker_fd, file_fd, spec, workdir, mode)
    os.close(worker_fd)
    if file_fd is not None:
        os.close(file_fd)
    _, status = os.waitpid(pid, 0)
    os.write(status_fd, str(os.waitstatus_to_exitcode(status)).encode())
    os._exit(0)


def _worker(worker_fd: int, file_fd: int | None, spec: dict, workdir: str, mode: str) -> None:
    """The worker process: finish confining itself, then serve the grader's requests."""
    try:
        os.setsid()  # its own process group: without a PID namespace, the grader kills that
        if mode in SANDBOXED_MODES:
            confine.mount("proc", "/proc", "proc", confine.MS_NOSUID | confine.MS_NODEV | confine.MS_NOEXEC)
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
