"""Start a worker process (sandboxed where possible). Imports no torch, so a caller can start the
worker first and import torch while the worker does the same: the two imports overlap.

Where a child can inherit a descriptor (POSIX) the worker gets one end of a socket pair; where it
cannot (Windows) it connects back to a loopback listener with a one-time token
(:class:`~dlgrade.exposed.platform_support.Rendezvous`). Either way it is a process of its own,
with its own socket and the same protocol."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlgrade
from dlgrade.exposed import platform_support
from dlgrade.exposed.platform_support import Rendezvous
from dlgrade.supervisor import bwrap, tier
from dlgrade.supervisor.policy import POLICY, SHARED_TEMP, Mode
from dlgrade.supervisor.processes import count_processes

if TYPE_CHECKING:
    from dlgrade.supervisor.lockdown import Lockdown

# Start workers (and the zygote) with -I (no user site, no cwd or PYTHONPATH on sys.path) and import
# exactly the dlgrade package this process runs, by file location: nothing beside it becomes
# importable, and it works the same for an installed, an editable or a vendored (handout) copy.
# argv: DLGRADE_INIT ENTRY_MODULE UID|- ARGS...; a UID makes root in the sandbox that user first
# (only ever given where there are uids: os.getuid is not called for "-").
BOOT = (
    "import importlib, importlib.util, os, sys\n"
    "init, entry, uid, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]\n"
    "if uid != '-' and os.getuid() == 0:\n"
    "    os.setgroups([]); os.setgid(int(uid)); os.setuid(int(uid))\n"
    "spec = importlib.util.spec_from_file_location('dlgrade', init,"
    " submodule_search_locations=[os.path.dirname(init)])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['dlgrade'] = module\n"
    "spec.loader.exec_module(module)\n"
    "importlib.import_module(entry).main(args)\n"
)


def boot_command(entry: str, uid: int | None, *args: str) -> list[str]:
    """The interpreter command line that runs ``entry.main(args)`` from this dlgrade package,
    as ``uid`` when started as root (None: as it is)."""
    return [sys.executable, "-I", "-c", BOOT, dlgrade.__file__, entry, "-" if uid is None else str(uid), *args]


# what the platform's own runtime needs in every process, passed on where set: Windows' sockets do
# not start without SYSTEMROOT (these are not set on POSIX systems)
RUNTIME_ENV = ("SYSTEMROOT", "WINDIR")


def worker_env(scratch: Path) -> dict[str, str]:
    """The worker's whole environment (nothing else is inherited from the grader)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(scratch),
            "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            **{name: os.environ[name] for name in RUNTIME_ENV if name in os.environ}}


@dataclass
class Launched:
    """A started worker: its process, our end of its socket (on the connect-back path, once
    :meth:`handshake` has it), its scratch folder, and its uid (None where there are no uids)."""

    proc: subprocess.Popen
    sock: socket.socket | None
    scratch: tempfile.TemporaryDirectory
    uid: int | None
    lockdown: Any = None  # the container tier's closed file modes, held while the worker runs
    rendezvous: Rendezvous | None = None  # the connect-back path: where the worker connects, until the handshake
    own_session: bool = True  # started in a session of its own, which stop() kills whole

    def handshake(self, timeout: float) -> None:
        """On the connect-back path, wait for the worker to connect and send its token. Else
        nothing to do: the process is ours (see :class:`dlgrade.supervisor.forkserver.ForkedWorker`)."""
        if self.rendezvous is not None:
            rendezvous, self.rendezvous = self.rendezvous, None
            self.sock = rendezvous.accept(timeout, self.running)

    def processes_in_use(self) -> int:
        """Processes and threads the worker's user runs now (RLIMIT_NPROC counts them all)."""
        return count_processes(self.uid)

    def running(self) -> bool:
        """Whether the worker process is still alive."""
        return self.proc.poll() is None

    def exit_status(self, timeout: float) -> int | None:
        """The worker's exit status (negative: killed by that signal); None if it is still running."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Kill the worker and everything it started (its session; with bwrap its PID namespace;
        without process groups the worker alone), close the socket and remove the scratch folder."""
        for opened in (self.sock, self.rendezvous):
            if opened is not None:
                opened.close()
        if self.proc.returncode is None:  # once reaped, its pid may belong to someone else
            self._kill()
            self.proc.wait()
        self.scratch.cleanup()
        if self.lockdown is not None:
            self.lockdown.close()
            self.lockdown = None

    def _kill(self) -> None:
        """SIGKILL to its session; without one (no process groups: Windows), kill the process."""
        if not self.own_session:
            self.proc.kill()
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _channel(portable: bool, env: dict[str, str]) -> tuple[str, socket.socket | None, socket.socket | None,
                                                           Rendezvous | None]:
    """How the worker gets its socket: its address argument, our end and its end of a socket pair;
    or, ``portable``, the rendezvous it connects back to (its token put in ``env``)."""
    if portable:
        rendezvous = Rendezvous()
        env[platform_support.TOKEN_ENV] = rendezvous.token
        return rendezvous.address, None, None, rendezvous
    parent, child = socket.socketpair()
    return str(child.fileno()), parent, child, None


def _hand_over(scratch: Path, uid: int, mode: Mode, hide: tuple[str | Path, ...]) -> Lockdown | None:
    """As root, for a worker that becomes the policy's user: let it use its scratch folder; in the
    container tier, also close the grader's files to it (the lockdown to hold while it runs)."""
    for path in (scratch, *scratch.iterdir()):
        os.chown(path, uid, uid)
    if mode is not Mode.CONTAINER:
        return None
    # no mount namespace: close the grader's files by their modes, keeping the way to the runtime
    # (it may live under /root) and to the scratch folder
    from dlgrade.supervisor.lockdown import Lockdown

    return Lockdown(POLICY.hidden_paths(hide), [*POLICY.read_only_paths(), scratch], SHARED_TEMP)


def launch(submission_file: Path | None = None, hide: tuple[str | Path, ...] = (),
           portable: bool | None = None) -> Launched:
    """Start a worker in a fresh scratch folder holding (a copy of) ``submission_file``.

    ``portable``: the worker connects back over loopback instead of inheriting its socket; None:
    where this platform cannot pass a descriptor to a child. Forced (tests do, on Linux), its tier
    is ``plain``: bubblewrap's network namespace would cut the way back."""
    if portable is None:
        portable = not platform_support.can_pass_fds()
    session = platform_support.process_groups()
    # without a session to kill, what the worker started may still hold files in its folder (which
    # Windows then cannot remove): leave that folder behind rather than fail the check
    scratch_dir = tempfile.TemporaryDirectory(prefix="dlgrade-worker-", ignore_cleanup_errors=not session)
    scratch = Path(scratch_dir.name)
    if submission_file is not None and submission_file.is_file():
        (scratch / submission_file.name).write_bytes(submission_file.read_bytes())
    env = worker_env(scratch)
    mode = Mode.PLAIN if portable else tier.mode()
    prefix = bwrap.bwrap_command(scratch, env, hide=hide) if mode.namespaces else None
    uid = POLICY.worker_uid(mode)
    drops = mode in (Mode.DROP, Mode.CONTAINER) and platform_support.effective_uid() == 0
    # the worker confines itself (no-new-privileges, then the filters); only the plain tier goes
    # without where the platform has none of it: the others fail in the worker rather than go without
    confines = mode is not Mode.PLAIN or platform_support.has_prctl()
    rules = [json.dumps(tier.confinement(mode))] if confines else []
    log = open(scratch / ".worker-output", "wb")  # first: a worker that drops gets it too
    lockdown = _hand_over(scratch, uid, mode, hide) if drops else None
    address, parent, child, rendezvous = _channel(portable, env)
    try:
        proc = subprocess.Popen(
            [*(prefix or []), *boot_command("dlgrade.worker.server", uid if drops else None, address, *rules)],
            pass_fds=[child.fileno()] if child is not None else (), cwd=scratch, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=session,
        )
    except BaseException:
        for opened in (lockdown, rendezvous, parent):
            if opened is not None:
                opened.close()
        raise
    finally:
        if child is not None:
            child.close()
        log.close()
    return Launched(proc, parent, scratch_dir, uid, lockdown, rendezvous, own_session=session)
