"""Framing of messages between the trusted grader and a worker.

A message is a 4-byte big-endian header length, a UTF-8 JSON header, then the blobs whose
lengths the header lists under ``"blob_sizes"``. Values inside the header are packed with
:mod:`dlgrade.exposed.tensorio`, so tensors travel as raw bytes (dtype and shape in the header) and
nothing is unpickled.
"""
from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from dlgrade.exposed.tensorio import DecodeError, pack, unpack

MAX_HEADER = 4 * 1024 * 1024
MAX_BLOBS = 256 * 1024 * 1024


@dataclass(frozen=True)
class MessageLimits:
    """What one received message may hold: header bytes (its JSON), blob bytes, and the tensor
    bytes its value holds with each reference to a blob counted (see :func:`tensorio.unpack`)."""

    header: int = MAX_HEADER
    blobs: int = MAX_BLOBS
    decoded: int = MAX_BLOBS


# what the trusted side accepts from a worker: the graders' answers are kilobytes (the largest,
# a transformer's gradients, under 100 KB); these bound the memory one answer can cost it
FROM_WORKER = MessageLimits(header=1024 * 1024, blobs=16 * 1024 * 1024, decoded=16 * 1024 * 1024)
# ... and the answers of one submission it keeps until they are judged, all together
ANSWERS_PER_SUBMISSION = 32 * 1024 * 1024


def _recv_exactly(sock: socket.socket, n: int, deadline: float | None = None) -> bytearray:
    """``n`` bytes from ``sock`` (read into one buffer of that size); by ``deadline``
    (``time.monotonic()``) for all of them, or :class:`TimeoutError` (a peer that sends a byte at
    a time does not get a timeout per read)."""
    data = bytearray(n)
    view, got = memoryview(data), 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the message did not arrive in time")
            sock.settimeout(left)
        count = sock.recv_into(view[got:], min(n - got, 1 << 20))
        if not count:
            raise EOFError("connection closed")
        got += count
    return data


def encode(message: Any) -> bytes:
    """One message (a dict of plain values and tensors) as the bytes :func:`send` sends."""
    blobs: list[bytes] = []
    skeleton = pack(message, blobs)
    header = json.dumps({"body": skeleton, "blob_sizes": [len(b) for b in blobs]}).encode()
    return struct.pack(">I", len(header)) + header + b"".join(blobs)


def as_received(message: Any) -> Any:
    """What the other end of a socket gets of ``message``: plain tensors (a subclass, a tensor
    without readable values, an object the wire does not carry comes back as the wire has it),
    for a caller that asks code in its own process (a notebook's check cell), as the worker's
    answers come to the grader. Raises what :func:`encode` raises."""
    blobs: list[bytes] = []
    return unpack(pack(message, blobs), blobs)


def send(sock: socket.socket, message: Any) -> None:
    """Send one message (a dict of plain values and tensors)."""
    sock.sendall(encode(message))


def receive(sock: socket.socket, limits: MessageLimits = MessageLimits(), deadline: float | None = None) -> Any:
    """Receive one message, the whole of it by ``deadline`` when given (else :class:`TimeoutError`);
    raise :class:`DecodeError` on anything malformed or over ``limits``."""
    (size,) = struct.unpack(">I", _recv_exactly(sock, 4, deadline))
    if size > limits.header:
        raise DecodeError(f"message header too large ({size} bytes)")
    try:
        header = json.loads(_recv_exactly(sock, size, deadline))
        sizes = header["blob_sizes"]
        body = header["body"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise DecodeError("malformed message header") from None
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise DecodeError("malformed blob sizes")
    if sum(sizes) > limits.blobs:
        raise DecodeError(f"message too large ({sum(sizes)} bytes of tensors)")
    data = memoryview(_recv_exactly(sock, sum(sizes), deadline))  # all the blobs in one read, then sliced
    blobs, offset = [], 0
    for size in sizes:
        blobs.append(data[offset:offset + size])
        offset += size
    try:
        return unpack(body, blobs, max_decoded=limits.decoded)
    except RecursionError:
        raise DecodeError("message nested too deeply") from None
