"""Worker entry point: ``main([ADDRESS, RULES])``, started by :class:`dlgrade.supervisor.client.WorkerClient`.

Runs in its own process, in a scratch folder, with the student's code. It receives a
:class:`~dlgrade.exposed.wire.Load` message with the submission's code chunks and the names of forbidden torch functions, then
answers requests (see :mod:`dlgrade.exposed.execute`) until the socket closes. It never sees expected
values, the reference or the results file.
"""
from __future__ import annotations

import contextlib
import io
import linecache
import os
import socket
import sys
import types

# One thread: a forked or sandboxed worker must not depend on an OpenMP pool.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

from dlgrade.exposed import execute, platform_support, protocol, tripwires, wire  # noqa: E402
from dlgrade.worker import limits  # noqa: E402


class _CappedText(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters of what the student prints."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def write(self, text: str) -> int:
        if self.size < self.limit:
            self.parts.append(text[: self.limit - self.size])
        self.size += len(text)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.size > self.limit:
            text += f"\n[... {self.size - self.limit} more characters not shown]"
        self.parts, self.size = [], 0
        return text


class _NoIPython:
    """Stands in for ``get_ipython()`` in notebook code: magics and shell escapes do nothing."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class _NoColab(types.ModuleType):
    """Stands in for ``google.colab`` and its modules in a notebook saved from Colab: mounting
    Drive, uploading files or showing output does nothing (what that code reads is not there,
    which fails only what uses it)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        setattr(self, name, _NoColab(f"{self.__name__}.{name}"))
        return getattr(self, name)

    def __call__(self, *args, **kwargs):
        return None


def install_colab_stand_in() -> None:
    """Make ``google.colab`` (and ``google.colab.drive``, ...) importable as :class:`_NoColab`,
    unless a real one is there (never in a worker; said for the stand-in's sake)."""
    if "google.colab" in sys.modules:
        return
    google = sys.modules.get("google") or types.ModuleType("google")
    if not hasattr(google, "__path__"):
        google.__path__ = []  # a package: its submodules are looked up in sys.modules first
    colab = _NoColab("google.colab")
    colab.__path__ = []
    google.colab = colab
    sys.modules.setdefault("google", google)
    sys.modules["google.colab"] = colab
    for name in ("drive", "files", "output", "userdata", "auth", "data_table", "widgets"):
        sys.modules[f"google.colab.{name}"] = getattr(colab, name)


def load(module_name: str, chunks: list[wire.Chunk]) -> tuple[dict, list[wire.LoadError]]:
    """Execute the code chunks as module ``module_name``; a failing chunk does not stop the rest."""
    install_colab_stand_in()
    module = types.ModuleType(module_name)
    module.__file__ = os.path.abspath(f"{module_name}.py")
    module.get_ipython = _NoIPython
    sys.modules[module_name] = module
    errors = []
    for chunk in chunks:
        source = chunk["source"]
        # register the text so tracebacks can quote the student's line
        linecache.cache[chunk["label"]] = (len(source), None, source.splitlines(True), chunk["label"])
        try:
            code = compile(source, chunk["label"], "exec")
            exec(code, module.__dict__)
        except BaseException as exc:  # student code: anything can come out, SystemExit included
            errors.append({"label": chunk["label"], "error": wire.exception_answer(wire.Where.LOADING, exc)["error"]})
    return module.__dict__, errors


def serve(sock: socket.socket) -> None:
    """Answer requests on ``sock`` until it closes."""
    torch.set_num_threads(1)
    ready: wire.Ready = {"ok": True, "ready": True}
    protocol.send(sock, ready)
    hello: wire.Load = protocol.receive(sock)
    limits.apply(hello["limits"])
    printed = _CappedText(hello["limits"]["printed_chars"])
    tripwires.install_tripwires(hello.get("forbidden", {}))
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        namespace, errors = load(hello["module_name"], hello["chunks"])
    forbidden = hello.get("forbidden", {})
    report: wire.LoadReport = {"ok": True, "errors": errors, "printed": printed.take(),
                               "names": sorted(k for k in namespace if not k.startswith("__"))}
    protocol.send(sock, report)
    while True:
        try:
            request = protocol.receive(sock)
        except EOFError:
            return
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            try:
                response = execute.run(namespace, request, forbidden)
            except BaseException as exc:
                response = wire.exception_answer(wire.Where.HANDLING, exc)
        response["printed"] = printed.take()
        try:
            protocol.send(sock, response)
        except Exception as exc:  # e.g. an output the packer cannot encode
            protocol.send(sock, wire.error_answer(wire.Where.RETURNING, f"could not send the result: {exc}"))


def main(argv: list[str] | None = None) -> None:
    """Serve on the socket ``ADDRESS`` names (an inherited descriptor, or ``tcp:PORT`` to connect
    back to: :func:`~dlgrade.exposed.platform_support.worker_socket`); with ``RULES`` (the
    policy's confinement, JSON), first set no-new-privileges and put on the filters they name (the
    launcher has made the uid change). The socket comes first: the filters refuse new ones."""
    argv = sys.argv[1:] if argv is None else argv
    sock = platform_support.worker_socket(argv[0])
    if len(argv) > 1:
        from dlgrade.worker import confinement, syscalls

        syscalls.no_new_privileges()
        confinement.install_filters(confinement.Rules.from_json(argv[1]), os.getcwd())
    serve(sock)


if __name__ == "__main__":
    main()
