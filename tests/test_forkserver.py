"""Workers forked from the zygote: as confined as a worker of its own, and cheap to start."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from dlgrade.authoring.registry import get_assignment
from dlgrade.errors import WorkerError
from dlgrade.grading.prefetch import RequestPlan, AnswerPrefetcher
from dlgrade.supervisor import bwrap
from dlgrade.supervisor.policy import POLICY, Mode
from dlgrade.supervisor.client import WorkerClient
from dlgrade.supervisor.forkserver import Forkserver
from dlgrade.supervisor.submission import Chunk, Submission

FORBIDDEN = get_assignment("attention").forbidden
SANDBOXED = bwrap.bwrap_path() is not None
REPO = Path(__file__).resolve().parents[1]


def call(target: str, *args):
    return {"op": "call", "target": target, "init": None, "dtype": "float32", "method": "forward",
            "args": list(args), "kwargs": {}, "grad_outputs": None, "state_dict": None}


@pytest.fixture(scope="module")
def secret_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("private")
    (folder / "secret.txt").write_text("the reference")
    return folder


@pytest.fixture(scope="module")
def forkserver(secret_dir):
    with Forkserver(hide=(secret_dir,)) as server:
        yield server


def client_for(forkserver: Forkserver, source: str, path: Path | None = None, **kwargs) -> WorkerClient:
    submission = Submission("t", [Chunk("t.py", source)], path=path)
    return WorkerClient(submission, "t", FORBIDDEN, spawn=forkserver.spawn, **kwargs)


PROBE = '''
import os, socket
def probe(x):
    out = {"pid": os.getpid(), "uid": os.getuid(), "cwd": os.getcwd(), "files": sorted(os.listdir(".")),
           "procs": sorted(p for p in os.listdir("/proc") if p.isdigit())}
    try:
        out["secret"] = open(SECRET).read()
    except OSError as exc:
        out["secret"] = type(exc).__name__
    try:
        socket.create_connection(("1.1.1.1", 80), timeout=1)
        out["net"] = "connected"
    except OSError as exc:
        out["net"] = type(exc).__name__
    try:
        open("/usr/dlgrade-was-here", "w")
        out["write_usr"] = "written"
    except OSError as exc:
        out["write_usr"] = type(exc).__name__
    with open("mine.txt", "w") as f:
        f.write(str(os.getpid()))
    return x, repr(out)
'''


def run_probe(forkserver: Forkserver, secret_dir: Path, tmp_path: Path) -> dict:
    sub_file = tmp_path / "t.py"
    sub_file.write_text("# the student's file\n")
    source = f"SECRET = {str(secret_dir / 'secret.txt')!r}\n" + PROBE
    with client_for(forkserver, source, path=sub_file) as client:
        answer = client.request(call("probe", torch.ones(1)))
    assert answer["ok"], answer
    return eval(answer["out"][1])  # noqa: S307 -- our own repr of plain data


@pytest.mark.skipif(not SANDBOXED, reason="needs bubblewrap")
def test_forked_worker_is_confined(forkserver, secret_dir, tmp_path):
    seen = run_probe(forkserver, secret_dir, tmp_path)
    assert seen["pid"] == 1 and seen["procs"] == ["1"]  # its own PID namespace and /proc
    if os.geteuid() == 0:
        assert seen["uid"] == POLICY.uid
    assert seen["files"] == [".worker-output", "t.py"]  # a private scratch folder with the submission
    assert seen["secret"] == "FileNotFoundError"  # hidden folders are empty
    assert seen["net"] != "connected"
    assert seen["write_usr"] in ("OSError", "PermissionError")
    again = run_probe(forkserver, secret_dir, tmp_path)
    assert again["files"] == [".worker-output", "t.py"]  # the last worker's mine.txt is not there


def test_exit_status_and_restart(forkserver):
    source = "import os\ndef die(x): os._exit(7)\ndef ok(x): return x + 1, os.getpid()\n"
    with client_for(forkserver, source) as client:
        with pytest.raises(WorkerError, match="ended the worker process.*exit status 7"):
            client.request(call("die", torch.ones(1)))
        answer = client.request(call("ok", torch.ones(1)))
        assert torch.equal(answer["out"][0], torch.full((1,), 2.0))


def test_timeout_kills_the_worker_and_what_it_started(forkserver):
    source = (
        "import os, time\n"
        "def spawn(x):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        while True: time.sleep(1)\n"
        "    while True: pass\n"
    )
    before = _nobody_processes()
    with client_for(forkserver, source, call_timeout=1.0) as client:
        start = time.monotonic()
        with pytest.raises(WorkerError, match="timed out after 1 s"):
            client.request(call("spawn", torch.ones(1)))
        assert time.monotonic() - start < 10
    deadline = time.monotonic() + 5
    while _nobody_processes() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _nobody_processes() <= before  # the detached child died with the worker's namespace


def _nobody_processes() -> int:
    uid = POLICY.uid if os.geteuid() == 0 else os.geteuid()
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"Uid:\t{uid}\t" in status.read_text():
                count += 1
        except OSError:
            pass
    return count


def test_stream_answers_in_order_and_survives_a_crash(forkserver):
    source = "import os\ndef die(x): os._exit(3)\ndef ok(x): return x * 2\n"
    requests = [call("ok", torch.ones(1)), call("die", torch.ones(1)), call("ok", torch.full((1,), 5.0))]
    with client_for(forkserver, source) as client:
        answers = list(client.stream([(r, None) for r in requests]))
    assert [a["ok"] for a in answers] == [True, False, True]
    assert "exit status 3" in answers[1]["error"]
    assert torch.equal(answers[2]["out"], torch.full((1,), 10.0))


def test_a_dead_zygote_is_started_again(secret_dir):
    with Forkserver(hide=(secret_dir,)) as server:
        with client_for(server, "def ok(x): return x\n") as client:
            assert client.request(call("ok", torch.ones(1)))["ok"]
        os.killpg(server._proc.pid, 9)
        server._proc.wait()
        with client_for(server, "def ok(x): return x\n") as client:
            assert client.request(call("ok", torch.ones(1)))["ok"]


def test_runner_answers_the_plan_ahead_and_each_request_once(forkserver):
    source = "calls = []\ndef count(x):\n    calls.append(1)\n    return x + len(calls)\n"
    plan = RequestPlan()
    first, second = call("count", torch.zeros(1)), call("count", torch.ones(1))
    runners = []
    for _ in range(2):
        runner = AnswerPrefetcher(Submission("t", [Chunk("t.py", source)]),
                                  WorkerClient(Submission("t", [Chunk("t.py", source)]), "t", FORBIDDEN,
                                               spawn=forkserver.spawn), plan)
        runner.start()
        runners.append(runner)
        try:
            values = [runner(first)["out"].item(), runner(second)["out"].item(), runner(first)["out"].item()]
        finally:
            runner.close()
        assert values == [1.0, 3.0, 1.0]  # the repeated request is not sent again
    assert [key for key, _ in plan.snapshot()] == [plan.key(first), plan.key(second)]


def test_runner_reports_an_unreadable_submission_without_a_worker():
    runner = AnswerPrefetcher(Submission("t", [], problem="no rnn.py in the submission"), None, RequestPlan())
    runner.start()
    assert runner(call("f", torch.ones(1))) == {"ok": False, "error": "no rnn.py in the submission",
                                                "where": "reading your submission"}
    runner.close()


CONTAINER_PROBE = """
import errno, os, socket, time
def who(x, secret):
    try:
        open(secret).read()
        read = "read it"
    except OSError as exc:
        read = errno.errorcode[exc.errno]
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock = "made one"
    except OSError as exc:
        sock = errno.errorcode[exc.errno]
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return x, repr((os.getuid(), os.getgroups(), read, sock, status["NoNewPrivs"].strip(), status["Seccomp"].strip()))
def detach(x):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True: time.sleep(1)
        os._exit(0)
    return x
def die(x): os._exit(5)
"""


def _uid_processes(uids: set[int]) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[0]) in uids and "Z" not in fields["State"]:
            found.append(int(status.parent.name))
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="the container tier is the one for root without namespaces")
def test_container_tier_gives_each_worker_its_own_uid_and_kills_what_it_left(monkeypatch):
    """Root without namespaces (Docker's default profile): each worker is a uid of its own with no
    groups, no new privileges and the seccomp filter; it cannot read the kit nor open a socket;
    what it detached dies with it; the kit's modes are back once the session ends."""
    monkeypatch.setattr(bwrap, "bwrap_path", lambda: None)
    secret = REPO / "solutions" / "rnn.py"
    modes = {p: p.stat().st_mode for p in (REPO, REPO / "solutions", secret)}
    with Forkserver() as server:
        assert server.mode == "container"
        answers = []
        for _ in range(2):
            with client_for(server, CONTAINER_PROBE) as client:
                answer = client.request(call("who", torch.ones(1), str(secret)))
                assert answer["ok"], answer
                answers.append(eval(answer["out"][1]))  # noqa: S307
                assert client.request(call("detach", torch.ones(1)))["ok"]
        (uid1, groups, read, sock, no_new_privs, seccomp), (uid2, *_) = answers
        first, count = POLICY.container_uids
        assert first <= uid1 < first + count and first <= uid2 < first + count and uid1 != uid2
        assert (groups, read, sock, no_new_privs, seccomp) == ([], "EACCES", "EPERM", "1", "2")
        deadline = time.monotonic() + 5
        while _uid_processes({uid1}) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _uid_processes({uid1})  # the first worker's detached grandchild was killed by uid
        with client_for(server, CONTAINER_PROBE) as client:
            with pytest.raises(WorkerError, match="exit status 5"):
                client.request(call("die", torch.ones(1)))
    assert not _uid_processes(set(range(first, first + count)))
    assert {p: p.stat().st_mode for p in modes} == modes


@pytest.mark.skipif(os.geteuid() != 0, reason="the container tier is the one for root without namespaces")
def test_container_tier_fails_closed_when_it_cannot_close_the_grader_s_files(monkeypatch):
    from dlgrade.supervisor import forkserver as forkserver_module

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(bwrap, "bwrap_path", lambda: None)
    monkeypatch.setattr(forkserver_module, "Lockdown", refuse)
    with pytest.raises(WorkerError, match="cannot close the grader's files to worker uids: .*Read-only"):
        Forkserver().close()


def test_without_namespaces_or_seccomp_root_is_refused_unless_allowed(monkeypatch):
    from dlgrade.supervisor import tier

    monkeypatch.setattr(bwrap, "bwrap_path", lambda: None)
    monkeypatch.setattr(tier, "seccomp", lambda: False)
    monkeypatch.setattr(tier.os, "geteuid", lambda: 0)
    monkeypatch.delenv(tier.ALLOW_UNCONFINED, raising=False)
    with pytest.raises(WorkerError, match="refusing to grade as root without confinement"):
        Forkserver().close()
    monkeypatch.setenv(tier.ALLOW_UNCONFINED, "1")
    assert tier.require_confinement() is Mode.PLAIN and "NO seccomp filter" in tier.describe()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the plain tier as root, allowed")
def test_without_namespaces_as_plain_workers_are_forked_processes_killed_with_their_group(monkeypatch, tmp_path):
    from dlgrade.supervisor import tier

    monkeypatch.setattr(bwrap, "bwrap_path", lambda: None)
    monkeypatch.setattr(tier, "seccomp", lambda: False)
    monkeypatch.setenv(tier.ALLOW_UNCONFINED, "1")
    source = (
        "import os, time\n"
        "def spawn(x):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        while True: time.sleep(1)\n"
        "    return x, pid, os.getpid(), os.getcwd()\n"
        "def die(x): os._exit(5)\n"
    )
    with Forkserver() as server:
        assert server.mode == "plain"
        with client_for(server, source) as client:
            answer = client.request(call("spawn", torch.ones(1)))
            _, child, pid, cwd = answer["out"]
            assert pid != os.getpid() and Path(cwd).name.startswith("worker-")
        deadline = time.monotonic() + 5
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child)  # the worker's child died with its process group
        with client_for(server, source) as client:
            with pytest.raises(WorkerError, match="exit status 5"):
                client.request(call("die", torch.ones(1)))


def _gone(pid: int) -> bool:
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()  # dead, not yet reaped
    except OSError:
        return True


def test_stream_stops_after_a_timeout(forkserver):
    source = "def spin(x):\n    while True: pass\ndef ok(x): return x\n"
    requests = [call("ok", torch.ones(1)), call("spin", torch.ones(1)), call("ok", torch.ones(2))]
    with client_for(forkserver, source, call_timeout=1.0) as client:
        start = time.monotonic()
        answers = list(client.stream([(r, None) for r in requests]))
    assert [a["ok"] for a in answers] == [True, False]  # the last one is left to be asked if needed
    assert "timed out after 1 s" in answers[1]["error"] and time.monotonic() - start < 10


SHARED_MEMORY = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def create(x):
    return x, libc.shmget(0x646c67, 4096, 0o1600)  # IPC_CREAT | 0600
def find(x):
    return x, (libc.shmget(0x646c67, 4096, 0o600), ctypes.get_errno())
"""


def test_workers_running_at_once_share_no_ipc(forkserver):
    """System V IPC outlives a worker and, without an IPC namespace, is shared between uids: the
    seccomp filter refuses it in every tier (with namespaces, each worker has its own as well)."""
    with client_for(forkserver, SHARED_MEMORY) as first, client_for(forkserver, SHARED_MEMORY) as second:
        created = first.request(call("create", torch.ones(1)))["out"][1]
        segment, errno = second.request(call("find", torch.ones(1)))["out"][1]
    assert created == -1 and (segment, errno) == (-1, 1)  # EPERM: refused outright


CAPS_PROBE = '''
import ctypes, os
def probe(x):
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    libc = ctypes.CDLL(None, use_errno=True)
    mounted = libc.mount(b"tmpfs", b"/mnt", b"tmpfs", 0, None)
    return x, repr((os.getpid(), status["CapEff"].strip(), status["CapPrm"].strip(), status["NoNewPrivs"].strip(),
                    mounted, ctypes.get_errno()))
'''


@pytest.mark.skipif(not SANDBOXED or os.geteuid() != 0, reason="needs bubblewrap, and root to act as a user")
def test_as_an_ordinary_user_workers_keep_no_capabilities(monkeypatch):
    """The path a non-root instructor takes (bwrap's user namespace, mode "caps"), taken here by
    making dlgrade believe it is not root: the zygote keeps CAP_SYS_ADMIN in its user namespace to
    confine each worker, and the worker drops every capability before any student code runs."""
    from dlgrade.supervisor import forkserver as forkserver_module

    monkeypatch.setattr(bwrap.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(forkserver_module.os, "geteuid", lambda: 1000)
    with Forkserver() as server:
        assert server.mode == "caps"
        with client_for(server, CAPS_PROBE) as client:
            answer = client.request(call("probe", torch.ones(1)))
    assert answer["ok"], answer
    pid, effective, permitted, no_new_privs, mounted, errno = eval(answer["out"][1])  # noqa: S307
    assert (pid, int(effective, 16), int(permitted, 16), no_new_privs) == (1, 0, 0, "1")
    assert mounted == -1 and errno == 1  # EPERM


def test_a_zygote_that_cannot_start_says_why(monkeypatch):
    from dlgrade.supervisor import forkserver as forkserver_module

    real = forkserver_module.boot_command
    monkeypatch.setattr(forkserver_module, "boot_command",
                        lambda entry, drop, *args: real("dlgrade.worker.no_such_module", drop, *args))
    with Forkserver() as server:
        with pytest.raises(WorkerError, match="the worker sandbox did not start: .*no_such_module"):
            server.ready()
