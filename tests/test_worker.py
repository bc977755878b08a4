"""The worker process: student code runs there, answers come back as plain data."""
import socket
import time

import pytest
import torch

from dlgrade.authoring.registry import get_assignment
from dlgrade.errors import WorkerError
from dlgrade.exposed import protocol
from dlgrade.exposed.tensorio import DecodeError, decode_tensor, encode_tensor
from dlgrade.supervisor.client import WorkerClient
from dlgrade.supervisor.submission import Chunk, Submission

FORBIDDEN = get_assignment("attention").forbidden


def client_for(source: str, **kwargs) -> WorkerClient:
    return WorkerClient(Submission("t", [Chunk("t.py", source)]), "attention", FORBIDDEN, **kwargs)


def call(target: str, *args, init=None):
    return {"op": "call", "target": target, "init": init, "dtype": "float32", "method": "forward",
            "args": list(args), "kwargs": {}, "grad_outputs": None, "state_dict": None}


def test_worker_runs_code_in_another_process_and_returns_plain_tensors():
    source = (
        "import os, torch\n"
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other): return True\n"
        "def f(x):\n"
        "    print('hello from the student')\n"
        "    return (x * 2).as_subclass(Liar), os.getpid()\n"
    )
    with client_for(source) as client:
        answer = client.request(call("f", torch.ones(2, 3)))
    out, pid = answer["out"]
    assert type(out) is torch.Tensor and torch.equal(out, torch.full((2, 3), 2.0))
    assert pid != __import__("os").getpid()
    assert "hello from the student" in answer["printed"]


def test_exit_at_import_is_reported_and_names_are_missing():
    with client_for("import sys\nsys.exit(3)\ndef f(x): return x\n") as client:
        report = client.ensure_started()
        answer = client.request(call("f", torch.ones(1)))
    assert "SystemExit(3)" in report["errors"][0]["error"]
    assert answer == {"ok": False, "error": "LookupError: f is not defined in your code", "where": "building",
                      "forbidden": [],
                      "printed": ""}


def test_hard_exit_in_a_call_restarts_the_worker_for_the_next_call():
    source = "import os\ndef die(x): os._exit(7)\ndef ok(x): return x + 1\n"
    with client_for(source) as client:
        with pytest.raises(WorkerError, match="ended the worker process.*exit status 7"):
            client.request(call("die", torch.ones(1)))
        assert torch.equal(client.request(call("ok", torch.ones(1)))["out"], torch.full((1,), 2.0))


def test_infinite_loop_times_out_and_the_process_is_killed():
    with client_for("def spin(x):\n    while True: pass\n", call_timeout=1.0) as client:
        client.ensure_started()
        worker = client._worker
        start = time.monotonic()
        with pytest.raises(WorkerError, match="timed out after 1 s"):
            client.request(call("spin", torch.ones(1)))
        assert time.monotonic() - start < 10
        assert not worker.running()


def test_forbidden_builtins_are_detected_inside_calls():
    source = (
        "import torch\nimport torch.nn.functional as F\n"
        "def sdpa(q, k, v): return F.scaled_dot_product_attention(q, k, v)\n"
        "def mha(q):\n"
        "    m = torch.nn.MultiheadAttention(4, 2, batch_first=True)\n"
        "    return m(q, q, q)[0]\n"
        "def fine(q): return q.softmax(-1)\n"
    )
    q = torch.randn(1, 3, 4)
    with client_for(source) as client:
        assert client.request(call("sdpa", q, q, q))["forbidden"] == [FORBIDDEN["scaled_dot_product_attention"]]
        assert client.request(call("mha", q))["forbidden"] == [FORBIDDEN["multi_head_attention_forward"]]
        assert client.request(call("fine", q))["forbidden"] == []


def test_printed_output_is_capped():
    with client_for("def f(x):\n    print('x' * 1_000_000)\n    return x\n") as client:
        printed = client.request(call("f", torch.ones(1)))["printed"]
    assert len(printed) < 70_000 and "more characters not shown" in printed


def _raw_message(body: object, blobs: list[bytes]) -> bytes:
    import json
    import struct

    header = json.dumps({"body": body, "blob_sizes": [len(b) for b in blobs]}).encode()
    return struct.pack(">I", len(header)) + header + b"".join(blobs)


def _received(data: bytes, limits: protocol.MessageLimits = protocol.FROM_WORKER):
    """``data`` sent (from a thread: it is larger than a socket's buffer) and received with ``limits``."""
    import threading

    a, b = socket.socketpair()
    with a, b:
        sender = threading.Thread(target=lambda: _send_quietly(a, data))
        sender.start()
        try:
            return protocol.receive(b, limits)
        finally:
            b.close()
            sender.join()


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:  # the receiver refused the rest
        pass


def test_a_blob_referenced_many_times_is_decoded_once_and_counted_each_time():
    """Every reference to one blob gets the same tensor (its bytes held once); what a message may
    decode to counts each reference, so 90 references to 1 MB are refused under a 16 MB bound."""
    size = 1024 * 1024
    ref = {"$t": 0, "dtype": "uint8", "shape": [size]}
    out = _received(_raw_message({"$dict": [["out", [ref] * 10]]}, [bytes(size)]))["out"]
    assert len(out) == 10 and len({t.data_ptr() for t in out}) == 1
    with pytest.raises(DecodeError, match="too many tensor bytes"):
        _received(_raw_message({"$dict": [["out", [ref] * 90]]}, [bytes(size)]))
    other = {"$t": 0, "dtype": "float32", "shape": [size // 4]}  # the same bytes seen as another dtype
    first, second = _received(_raw_message({"$dict": [["out", [ref, other]]]}, [bytes(size)]))["out"]
    assert first.dtype == torch.uint8 and second.dtype == torch.float32 and second.shape == (size // 4,)


def test_what_the_trusted_side_accepts_from_a_worker_is_bounded():
    with pytest.raises(DecodeError, match="header too large"):
        _received(_raw_message("x" * (protocol.FROM_WORKER.header + 1), []))
    with pytest.raises(DecodeError, match="too large"):
        _received(protocol.encode({"x": torch.zeros(protocol.FROM_WORKER.blobs // 4 + 1)}))


def test_protocol_rejects_pickles_and_oversized_messages():
    a, b = socket.socketpair()
    with a, b:
        protocol.send(a, {"x": torch.arange(3)})
        assert torch.equal(protocol.receive(b)["x"], torch.arange(3))
        protocol.send(a, {"x": torch.zeros(1000)})
        with pytest.raises(DecodeError, match="too large"):
            protocol.receive(b, protocol.MessageLimits(blobs=100))
    meta, data = encode_tensor(torch.arange(6.0).reshape(2, 3))
    assert torch.equal(decode_tensor(meta, data), torch.arange(6.0).reshape(2, 3))
    bad = [({"dtype": "object", "shape": [1]}, b"x" * 8, "not allowed"),
           ({"dtype": "float32", "shape": [2, 3]}, data[:-1], "cannot hold"),
           ({"dtype": "float32", "shape": [-1]}, data, "malformed tensor shape"),
           ({"dtype": "float32", "shape": "6"}, data, "malformed tensor shape")]
    for meta, blob, why in bad:
        with pytest.raises(DecodeError, match=why):
            decode_tensor(meta, blob)
    assert decode_tensor({"dtype": "bool", "shape": [2]}, b"\x00\x07").tolist() == [False, True]


N_STREAMED = 300


def _stalled_stream(client: WorkerClient, answers: list, errors: list) -> None:
    """Stream many small requests to a worker whose first call sleeps: more than its socket takes
    (each small message costs the socket buffer far more than its bytes), so while the first call
    stalls the rest wait in the client's outbox."""
    requests = [(call("slow" if i == 0 else "f", torch.full((1,), float(i))), None) for i in range(N_STREAMED)]
    try:
        answers.extend(client.stream(requests))
    except BaseException as exc:  # noqa: BLE001 - the test asserts there is none
        errors.append(exc)


def test_a_stall_loses_no_request_and_later_answers_match_their_requests():
    source = "import time\ndef slow(x):\n    time.sleep(2.5)\n    return x\ndef f(x):\n    return x + 1\n"
    answers: list = []
    with client_for(source, call_timeout=1.5) as client:
        _stalled_stream(client, answers, [])
    assert "timed out after 1.5 s" in answers[0]["error"]
    assert len(answers) == 1  # a stream stops after a timeout: a hanging worker would make each wait
    with client_for(source, call_timeout=10) as client:
        answers.clear()
        _stalled_stream(client, answers, [])
    assert len(answers) == N_STREAMED and all(a["ok"] for a in answers)
    # each answer goes with its own request
    assert [a["out"].item() for a in answers] == [0.0] + [i + 1.0 for i in range(1, N_STREAMED)]


def test_a_worker_stopped_from_another_thread_ends_the_stream_with_an_error():
    import threading

    source = "import time\ndef slow(x):\n    time.sleep(30)\n    return x\ndef f(x):\n    return x\n"
    answers: list = []
    errors: list = []
    client = client_for(source)
    client.ensure_started()
    thread = threading.Thread(target=_stalled_stream, args=(client, answers, errors))
    thread.start()
    time.sleep(1.0)
    client.shutdown()
    thread.join(timeout=20)
    assert not thread.is_alive() and errors == []
    assert answers and not answers[-1]["ok"]
