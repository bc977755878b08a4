"""Execute a notebook for real in a Jupyter kernel that talks over local sockets, not TCP.

A kernel started the default way listens on TCP ports of the machine and logs ``Kernel is running
over TCP without encryption`` on every start. Over IPC (Unix sockets in a private folder of
ours) nothing is exposed on the network and nothing is logged; the kernel is shut down when the
notebook has run. Used by the solutions notebook and by dlgrade's own tests.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

KERNEL = "python3"


def execute_notebook(nb: nbformat.NotebookNode, folder: str | Path, timeout: float = 300,
                     python: str | Path | None = None, **options: Any) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` (in place, and returned) with ``folder`` as the working folder, in
    a kernel of the ``python3`` kernel spec or, given ``python``, of that interpreter (which must
    have ipykernel); ``options`` go to :class:`nbclient.NotebookClient` (``allow_errors``...)."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-kernel-") as sockets:
        manager = _kernel_manager(sockets)
        if python is not None:
            manager.kernel_spec_manager = _spec_of(Path(python), Path(sockets) / "kernels")
        try:
            NotebookClient(nb, km=manager, timeout=timeout, kernel_name=KERNEL,
                           resources={"metadata": {"path": str(folder)}}, **options).execute()
        finally:
            if manager.has_kernel:
                manager.shutdown_kernel(now=False)
    return nb


def _kernel_manager(sockets: str) -> KernelManager:
    """A manager for a kernel on Unix sockets in ``sockets`` (TCP on loopback where there are
    none: Windows)."""
    if os.name != "posix":
        return KernelManager(kernel_name=KERNEL)
    return KernelManager(kernel_name=KERNEL, transport="ipc", ip=os.path.join(sockets, "kernel"))


def _spec_of(python: Path, folder: Path) -> KernelSpecManager:
    """A kernel spec manager whose ``python3`` kernel runs ``python``."""
    spec = folder / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    return KernelSpecManager(kernel_dirs=[str(folder)])
