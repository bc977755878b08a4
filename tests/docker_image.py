"""A Gradescope-like Docker image, made here without a registry, and the engine to run it.

Gradescope runs each autograder as root in a Docker container with Docker's default seccomp
profile and capabilities; its Python environment (Otter's, from ``setup.sh``) lives under
``/root``. This image is the same, built from parts this machine has: a Debian bookworm root
filesystem from ``debootstrap`` (what ``.ci/run`` installs), the Python runtime this test suite runs
on (under ``/root/.pyenv``, mode ``0700`` like ``/root`` on Gradescope) and a copy of this
virtual environment at ``/root/venv`` (torch, Otter, dlgrade's dependencies: what ``setup.sh``
would download), put in from the host side; ``docker import`` makes it an image. Built once per
machine (the tag is a hash of what goes in). The repository is mounted at run time, at its own
path, so that the environment's editable install of dlgrade finds it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
RUNTIME = Path(sys.base_prefix)
CACHE = Path("/var/cache/dlgrade-docker")
PACKAGES = ("procps", "libseccomp2", "bubblewrap", "libssl3", "libffi8", "zlib1g", "libsqlite3-0", "libbz2-1.0",
            "liblzma5", "libreadline8", "libncursesw6", "libgomp1")
IMAGE_VENV = Path("/root/venv")
RECIPE = 2  # bump when the way the image is made changes


def _run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), capture_output=True, text=True, **kwargs)


def engine_problem() -> str | None:
    """Why no Docker engine can be used here (None: one answers, started if need be)."""
    if os.geteuid() != 0:
        return "needs root to start and use the Docker engine"
    for tool in ("docker", "dockerd", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs docker.io and debootstrap)"
    if _run("docker", "info", timeout=30).returncode == 0:
        return None
    log = open(CACHE.parent / "dlgrade-dockerd.log", "ab")
    subprocess.Popen(["dockerd", "--bridge=none", "--iptables=false"], stdout=log, stderr=log,
                     start_new_session=True)
    for _ in range(60):
        time.sleep(1)
        if _run("docker", "info", timeout=30).returncode == 0:
            return None
    return "the Docker engine did not start (see /var/cache/dlgrade-dockerd.log)"


def _tag() -> str:
    freeze = _run(str(VENV / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable").stdout
    key = "\n".join([str(RECIPE), str(RUNTIME), sys.version, freeze, " ".join(PACKAGES), str(VENV)])
    return "dlgrade-gradescope:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _rootfs() -> Path:
    """Debian bookworm, minimal, with what the runtime and the sandbox need (cached)."""
    rootfs = CACHE / "rootfs-bookworm"
    if not (rootfs / ".complete").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        proc = _run("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm", str(rootfs),
                    timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"debootstrap failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        (rootfs / ".complete").write_text("")
    return rootfs


def _copy_environment(target: Path) -> None:
    """The Python runtime at its own path and this environment at ``/root/venv``, scripts pointed there."""
    runtime = target / RUNTIME.relative_to("/")
    shutil.copytree(RUNTIME, runtime, symlinks=True,
                    ignore=shutil.ignore_patterns("site-packages", "test", "__pycache__", "*.a"))
    (runtime / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages").mkdir()
    venv = target / IMAGE_VENV.relative_to("/")
    shutil.copytree(VENV, venv, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    kernels = list((venv / "share" / "jupyter" / "kernels").glob("*/kernel.json"))
    for script in [*(venv / "bin").iterdir(), *kernels]:  # scripts' #! lines and Jupyter's kernel specs
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if data.startswith(b"#!") or script.name == "kernel.json":
                script.write_bytes(data.replace(str(VENV).encode(), str(IMAGE_VENV).encode()))
    (target / "root").chmod(0o700)  # as on Gradescope: the environment under a home only root may list


def image() -> str:
    """The image's tag, built if this machine does not have it yet (a few minutes, once)."""
    tag = _tag()
    if _run("docker", "image", "inspect", tag, timeout=60).returncode == 0:
        return tag
    base = _rootfs()
    work = CACHE / "image"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(["cp", "-a", f"{base}/.", str(work)], check=True)
    _copy_environment(work)
    tar = subprocess.Popen(["tar", "-C", str(work), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True,
                              timeout=1800)
    tar.wait()
    shutil.rmtree(work, ignore_errors=True)
    if imported.returncode != 0:
        raise RuntimeError(f"docker import failed: {imported.stderr[-2000:]}")
    return tag


def docker_run(tag: str, command: list[str], mounts: dict[Path, str], workdir: str = "/",
               timeout: float = 1500) -> subprocess.CompletedProcess:
    """``docker run`` as Gradescope does: root, Docker's default seccomp profile and capabilities,
    no network."""
    volumes = [arg for host, inside in mounts.items() for arg in ("-v", f"{host}:{inside}")]
    return _run("docker", "run", "--rm", "--network", "none", *volumes, "-w", workdir,
                "-e", "HOME=/root", "-e", "PYTHONDONTWRITEBYTECODE=1", "-e", "LANG=C.UTF-8", tag, *command,
                timeout=timeout)
