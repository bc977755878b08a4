"""Start a worker process (sandboxed where possible). Imports no torch, so a caller can start the
worker first and import torch while the worker does the same: the two imports overlap."""
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
from typing import Any

import dlgrade
from dlgrade.supervisor import bwrap, tier
from dlgrade.supervisor.policy import POLICY, SHARED_TEMP, Mode
from dlgrade.supervisor.processes import count_processes

# Start workers (and the zygote) with -I (no user site, no cwd or PYTHONPATH on sys.path) and import
# exactly the dlgrade package this process runs, by file location: nothing beside it becomes
# importable, and it works the same for an installed, an editable or a vendored (handout) copy.
# argv: DLGRADE_INIT ENTRY_MODULE UID|- ARGS...; a UID makes root in the sandbox that user first.
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


def worker_env(scratch: Path) -> dict[str, str]:
    """The worker's whole environment (nothing is inherited from the grader)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(scratch),
            "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


@dataclass
class Launched:
    """A started worker: its process, our end of its socket, its scratch folder, and its uid."""

    proc: subprocess.Popen
    sock: socket.socket
    scratch: tempfile.TemporaryDirectory
    uid: int
    lockdown: Any = None  # the container tier's closed file modes, held while the worker runs

    def handshake(self, timeout: float) -> None:
        """Nothing to do: the process is ours (see :class:`dlgrade.supervisor.forkserver.ForkedWorker`)."""

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
        """Kill the worker and everything it started (its session; with bwrap its PID namespace),
        close the socket and remove the scratch folder."""
        self.sock.close()
        if self.proc.returncode is None:  # once reaped, its pid may belong to someone else
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.scratch.cleanup()
        if self.lockdown is not None:
            self.lockdown.close()
            self.lockdown = None


def launch(submission_file: Path | None = None, hide: tuple[str | Path, ...] = ()) -> Launched:
    """Start a worker in a fresh scratch folder holding (a copy of) ``submission_file``."""
    scratch_dir = tempfile.TemporaryDirectory(prefix="dlgrade-worker-")
    scratch = Path(scratch_dir.name)
    if submission_file is not None and submission_file.is_file():
        (scratch / submission_file.name).write_bytes(submission_file.read_bytes())
    env = worker_env(scratch)
    mode = tier.mode()
    prefix = bwrap.bwrap_command(scratch, env, hide=hide) if mode.namespaces else None
    uid = POLICY.worker_uid(mode)
    drops = mode in (Mode.DROP, Mode.CONTAINER) and os.geteuid() == 0
    rules = json.dumps(tier.confinement(mode))
    log = open(scratch / ".worker-output", "wb")
    lockdown = None
    if drops:  # the worker becomes the policy's user: let it use its scratch folder
        for path in (scratch, *scratch.iterdir()):
            os.chown(path, uid, uid)
        if mode is Mode.CONTAINER:  # no mount namespace: close the grader's files by their modes,
            # keeping the way to the runtime (it may live under /root) and to the scratch folder
            from dlgrade.supervisor.lockdown import Lockdown

            lockdown = Lockdown(POLICY.hidden_paths(hide), [*POLICY.read_only_paths(), scratch], SHARED_TEMP)
    parent, child = socket.socketpair()
    try:
        proc = subprocess.Popen(
            [*(prefix or []), *boot_command("dlgrade.worker.server", uid if drops else None,
                                            str(child.fileno()), rules)],
            pass_fds=[child.fileno()], cwd=scratch, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    except BaseException:
        if lockdown is not None:
            lockdown.close()
        raise
    finally:
        child.close()
        log.close()
    return Launched(proc, parent, scratch_dir, uid, lockdown)
