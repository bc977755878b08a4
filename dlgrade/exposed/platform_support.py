"""What this platform offers a worker and its supervisor, found by probing for each feature (never
by the platform's name), and the connect-back used where a child cannot inherit a socket.

On Linux and other POSIX systems the supervisor hands the worker one end of a socket pair
(``pass_fds``), starts it in a session of its own and kills that session (``killpg``); the worker
sets rlimits (``resource``), made relative to what ``/proc`` says it uses, and confines itself
(``prctl``, then seccomp and Landlock). Where a piece is missing (Windows has none of them; macOS
has no ``/proc`` and no ``prctl``), what needs it is skipped, each piece found by one probe here;
the worker stays a separate process with its own socket, and the per-call timeout, enforced by the
supervisor, still holds. Both sides import this module (the worker zone may import only
``exposed``): the supervisor's launcher, tier, policy and processes, the worker's server and limits.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hmac
import os
import secrets
import select
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

# protocol (tensors on the wire: torch) is imported where a token is exchanged, not here: the
# supervisor's policy, tier and launcher import this module, and importing torch with them made a
# grading session import it before starting its zygote rather than beside it (measured on 2 CPUs:
# ~1.5 s more at the start of every `dlgrade grade`, and before `dlgrade check` starts its worker)

LOOPBACK = "127.0.0.1"
TOKEN_ENV = "DLGRADE_WORKER_TOKEN"  # the one-time token, in the worker's environment (not its argv)
_TCP = "tcp:"  # a worker address "tcp:PORT": connect back; else the number of an inherited descriptor
_TOKEN_LIMITS = {"header": 1024, "blobs": 0, "decoded": 0}  # the token message's protocol.MessageLimits
_POLL_S = 0.1  # how often a wait for the worker's connection looks whether it is still alive
_CONNECT_TIMEOUT_S = 30.0


# -- features ---------------------------------------------------------------------------------

def can_pass_fds() -> bool:
    """Whether a child can inherit a chosen descriptor (subprocess's ``pass_fds``): that needs
    processes made by fork and exec (POSIX); Windows has no fork and its ``Popen`` refuses it."""
    return hasattr(os, "fork")


def effective_uid() -> int | None:
    """This process's effective uid; None where there are no POSIX users (Windows)."""
    return os.geteuid() if hasattr(os, "geteuid") else None


def process_groups() -> bool:
    """Whether a child can get a session of its own that is killed whole (``killpg`` with
    ``SIGKILL``); without them (Windows) only the process itself can be killed."""
    return hasattr(os, "killpg") and hasattr(signal, "SIGKILL")


def rlimits() -> ModuleType | None:
    """The ``resource`` module (POSIX rlimits); None where there is none (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    return resource


def has_proc() -> bool:
    """Whether ``/proc`` says what a process uses and who runs what (Linux; not macOS or Windows)."""
    return Path("/proc/self/status").is_file()


@functools.cache
def has_prctl() -> bool:
    """Whether the C library has ``prctl`` (Linux): a worker's confinement starts with its
    no-new-privileges, then puts on seccomp and Landlock, Linux's too; without it (macOS,
    Windows) there is nothing of that to apply. The library is found as the worker finds it
    (:mod:`dlgrade.worker.syscalls`)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # Windows: no C library by either name
        return False
    return hasattr(libc, "prctl")


# -- the connect-back, where a descriptor cannot be passed ---------------------------------------

def _no_delay(sock: socket.socket) -> None:
    """Send small messages at once: the protocol waits for each answer, and Nagle's algorithm
    with delayed acknowledgements would add up to 200 ms to each (a socket pair has neither)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _listener() -> socket.socket:
    """A listening socket on loopback, on a free port; exclusive where the platform can make it
    so (Windows lets another program bind a port in use unless told not to)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        sock.bind((LOOPBACK, 0))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock


class Rendezvous:
    """The supervisor's side of the connect-back: a loopback listener and a one-time token. The
    worker started with :attr:`address` (and the token in its environment, :data:`TOKEN_ENV`)
    connects and sends the token first; :meth:`accept` takes the first connection that does, and
    closes the listener. Another program may connect to the port too: it never gets the worker's
    code or requests without the token."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(32)
        self.listener = _listener()
        self.address = f"{_TCP}{self.listener.getsockname()[1]}"

    def accept(self, timeout: float, alive: Callable[[], bool]) -> socket.socket:
        """The worker's connection, within ``timeout`` seconds (else :class:`TimeoutError`);
        :class:`EOFError` once ``alive()`` says the worker ended without connecting. A connection
        that does not send the token in that time is closed and the wait goes on."""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([self.listener], [], [], min(left, _POLL_S))[0]:
                    if not alive():
                        raise EOFError("the worker ended before it connected")
                    continue
                conn, _ = self.listener.accept()
                if self._admit(conn, deadline):
                    return conn
            raise TimeoutError("the worker did not connect in time")
        finally:
            self.close()

    def _admit(self, conn: socket.socket, deadline: float) -> bool:
        """Whether ``conn`` sent this token first; if not, it is closed."""
        from dlgrade.exposed import protocol
        from dlgrade.exposed.tensorio import DecodeError

        try:
            message = protocol.receive(conn, protocol.MessageLimits(**_TOKEN_LIMITS), deadline)
            token = message.get("token") if isinstance(message, dict) else None
            if isinstance(token, str) and hmac.compare_digest(token.encode(), self.token.encode()):
                conn.settimeout(None)
                _no_delay(conn)
                return True
        except (OSError, EOFError, DecodeError):
            pass
        conn.close()
        return False

    def close(self) -> None:
        self.listener.close()


def worker_socket(address: str) -> socket.socket:
    """The worker's side: its socket to the supervisor. ``address`` is the number of a descriptor
    it inherited, or ``tcp:PORT``: connect back on loopback and send the token from the environment
    first (taken out of it: nothing later in this process needs it)."""
    if not address.startswith(_TCP):
        return socket.socket(fileno=int(address))
    token = os.environ.pop(TOKEN_ENV, "")
    sock = socket.create_connection((LOOPBACK, int(address[len(_TCP):])), timeout=_CONNECT_TIMEOUT_S)
    sock.settimeout(None)
    _no_delay(sock)
    from dlgrade.exposed import protocol

    protocol.send(sock, {"token": token})
    return sock
