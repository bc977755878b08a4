"""Plain-data encoding of nested values holding tensors.

A value is ``None``, ``bool``, ``int``, ``float``, ``str``, a list/tuple/dict of values, or a
``torch.Tensor``. :func:`pack` turns it into a JSON-able skeleton plus a list of blobs, each a
tensor's raw bytes, its dtype and shape in the skeleton (``{"$t": i, "dtype": "float32",
"shape": [3, 4]}``); :func:`unpack` reverses it, accepting only the dtypes in
:data:`ALLOWED_DTYPES` and blobs of exactly the size their dtype and shape call for. Nothing is
unpickled, so whatever comes back is a plain ``torch.Tensor``, never an object chosen by the sender.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
from typing import Any

import numpy as np
import torch

ALLOWED_DTYPES = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
}
MAX_DEPTH = 16
MAX_DIMS = 32
FILE_DEPTH = 64


class DecodeError(ValueError):
    """A packed value is malformed or uses something not allowed."""


def encode_tensor(tensor: torch.Tensor) -> tuple[dict, bytes]:
    """A tensor's dtype and shape, and its raw (C-order, native byte order) bytes."""
    array = tensor.detach().cpu().numpy()
    # np.ascontiguousarray returns at least 1-d arrays: keep a 0-d tensor's shape []
    array = np.ascontiguousarray(array).reshape(array.shape)
    return {"dtype": array.dtype.name, "shape": list(array.shape)}, array.tobytes()


def decode_tensor(meta: Any, data: bytes) -> torch.Tensor:
    """A plain tensor from :func:`encode_tensor`'s output; reject odd dtypes, shapes and sizes."""
    dtype, shape = (meta.get("dtype"), meta.get("shape")) if isinstance(meta, dict) else (None, None)
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise DecodeError(f"tensor dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS \
            or not all(type(n) is int and n >= 0 for n in shape):
        raise DecodeError(f"malformed tensor shape {shape!r}")
    np_dtype = np.dtype(dtype)
    if math.prod(shape) * np_dtype.itemsize != len(data):
        raise DecodeError(f"tensor of shape {shape} and dtype {dtype} cannot hold {len(data)} bytes")
    array = np.frombuffer(data, dtype=np_dtype).reshape(shape)
    # a bool byte is 0 or 1, nothing else (np.asarray: ``!=`` on a 0-d array gives a numpy scalar)
    array = np.asarray(array != 0) if dtype == "bool" else array.copy()
    return torch.from_numpy(array)


def as_plain_tensor(value: Any) -> torch.Tensor:
    """``value`` as a detached plain ``torch.Tensor`` (a copy when it is a subclass, which drops it)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(value).__name__}")
    if type(value) is torch.Tensor:  # not a subclass: nothing overridden (every tensor a worker sends)
        return value.detach()
    return decode_tensor(*encode_tensor(torch.Tensor._make_subclass(torch.Tensor, value.detach())))


class SharedBlobs(list):
    """Blobs for :func:`pack` that keep equal bytes once (every tensor holding them names the
    same blob; :func:`unpack` decodes a blob once however often it is named)."""

    def __init__(self) -> None:
        super().__init__()
        self._at: dict[bytes, int] = {}

    def index(self, data: bytes) -> int:  # type: ignore[override]
        """Where ``data`` is, added if it is not there yet."""
        if data not in self._at:
            self._at[data] = len(self)
            self.append(data)
        return self._at[data]


def pack(value: Any, blobs: list[bytes], depth: int = 0, max_depth: int = MAX_DEPTH) -> Any:
    """Replace tensors in ``value`` by ``{"$t": index, "dtype", "shape"}``; append their bytes to ``blobs``."""
    if depth > max_depth:
        raise DecodeError("value is nested too deeply")
    if isinstance(value, torch.Tensor):
        meta, data = encode_tensor(value)
        if isinstance(blobs, SharedBlobs):
            return {"$t": blobs.index(data), **meta}
        blobs.append(data)
        return {"$t": len(blobs) - 1, **meta}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"$tuple": [pack(v, blobs, depth + 1, max_depth) for v in value]}
    if isinstance(value, list):
        return [pack(v, blobs, depth + 1, max_depth) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[str(k), pack(v, blobs, depth + 1, max_depth)] for k, v in value.items()]}
    return {"$obj": type(value).__name__}


def unpack(skeleton: Any, blobs: list[bytes] | list[memoryview], depth: int = 0, max_depth: int = MAX_DEPTH,
           max_decoded: int | None = None) -> Any:
    """Inverse of :func:`pack`; unknown objects come back as :class:`Opaque`.

    Each blob is decoded once: every reference to it gets the same tensor, so a blob named many
    times costs its size once. ``max_decoded`` bounds the tensor bytes the value holds, each
    reference counted (what code walking the value may copy): more raises :class:`DecodeError`.
    """
    return _Unpacker(blobs, max_depth, max_decoded).unpack(skeleton, depth)


class _Unpacker:
    """One :func:`unpack`: the blobs decoded so far and the bytes the references have added up to."""

    def __init__(self, blobs: list[bytes] | list[memoryview], max_depth: int, max_decoded: int | None) -> None:
        self.blobs, self.max_depth, self.left = blobs, max_depth, max_decoded
        self.decoded: dict[tuple[int, str, str], torch.Tensor] = {}

    def tensor(self, index: int, skeleton: dict) -> torch.Tensor:
        key = (index, str(skeleton["dtype"]), str(skeleton["shape"]))
        tensor = self.decoded.get(key)
        if tensor is None:
            tensor = self.decoded[key] = decode_tensor(skeleton, self.blobs[index])
        if self.left is not None:
            self.left -= tensor.numel() * tensor.element_size()
            if self.left < 0:
                raise DecodeError("message holds too many tensor bytes (each reference counted)")
        return tensor

    def unpack(self, skeleton: Any, depth: int) -> Any:
        if depth > self.max_depth:
            raise DecodeError("value is nested too deeply")
        if skeleton is None or isinstance(skeleton, (bool, int, float, str)):
            return skeleton
        if isinstance(skeleton, list):
            return [self.unpack(v, depth + 1) for v in skeleton]
        if isinstance(skeleton, dict) and "$t" in skeleton:
            index = skeleton["$t"]
            if type(index) is int and 0 <= index < len(self.blobs) and set(skeleton) == {"$t", "dtype", "shape"}:
                return self.tensor(index, skeleton)
        elif isinstance(skeleton, dict) and len(skeleton) == 1:
            (key, inner), = skeleton.items()
            if key == "$tuple" and isinstance(inner, list):
                return tuple(self.unpack(v, depth + 1) for v in inner)
            if key == "$dict" and isinstance(inner, list) and all(isinstance(i, list) and len(i) == 2 for i in inner):
                return {str(k): self.unpack(v, depth + 1) for k, v in inner}
            if key == "$obj":
                return Opaque(str(inner))
        raise DecodeError("malformed packed value")


class Opaque:
    """Stands for a returned object that is not plain data (its type name only)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def fingerprint(value: Any) -> str:
    """A digest of ``value``'s content (structure, dtypes, shapes and bytes of its tensors)."""
    blobs: list[bytes] = []
    digest = hashlib.sha256(json.dumps(pack(value, blobs, max_depth=FILE_DEPTH), sort_keys=True).encode())
    for blob in blobs:
        digest.update(len(blob).to_bytes(8, "big"))
        digest.update(blob)
    return digest.hexdigest()


class Fingerprints:
    """:func:`fingerprint`, memoized per object for values that are not modified once made
    (the memo keeps each object alive, so an id is never reused for another). Thread-safe."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        with self._lock:
            found = self._memo.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        key = fingerprint(value)
        with self._lock:
            self._memo[id(value)] = (value, key)
        return key


def to_json(value: Any) -> Any:
    """Self-contained JSON form (tensor bytes inline as base64, equal ones once), for fixture files."""
    blobs = SharedBlobs()
    skeleton = pack(value, blobs, max_depth=FILE_DEPTH)
    return {"value": skeleton, "blobs": [base64.b64encode(b).decode("ascii") for b in blobs]}


def from_json(data: Any) -> Any:
    """Inverse of :func:`to_json`."""
    return unpack(data["value"], [base64.b64decode(b) for b in data["blobs"]], max_depth=FILE_DEPTH)
