"""Plain-data encoding of nested values holding tensors.

A value is ``None``, ``bool``, ``int``, ``float``, ``str``, a list/tuple/dict of values, or a
``torch.Tensor``. :func:`pack` turns it into a JSON-able skeleton plus a list of ``.npy`` blobs;
:func:`unpack` reverses it with ``allow_pickle=False``, so whatever comes back is a plain
``torch.Tensor`` of an allowed dtype, never an object chosen by the sender.
"""
from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import torch

ALLOWED_DTYPES = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
}
MAX_DEPTH = 16
FILE_DEPTH = 64


class DecodeError(ValueError):
    """A packed value is malformed or uses something not allowed."""


def tensor_to_bytes(tensor: torch.Tensor) -> bytes:
    """Serialize a tensor as ``.npy`` bytes (no pickle)."""
    array = tensor.detach().cpu().contiguous().numpy()
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def tensor_from_bytes(data: bytes) -> torch.Tensor:
    """Load ``.npy`` bytes into a plain tensor; reject pickles and odd dtypes."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # malformed bytes from an untrusted sender
        raise DecodeError(f"not a valid tensor: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.name not in ALLOWED_DTYPES:
        raise DecodeError(f"tensor dtype {getattr(array, 'dtype', '?')} is not allowed")
    return torch.from_numpy(np.ascontiguousarray(array).copy())


def as_plain_tensor(value: Any) -> torch.Tensor:
    """A detached plain ``torch.Tensor`` copy of ``value`` (drops any subclass)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(value).__name__}")
    return tensor_from_bytes(tensor_to_bytes(torch.Tensor._make_subclass(torch.Tensor, value.detach())))


def pack(value: Any, blobs: list[bytes], depth: int = 0, max_depth: int = MAX_DEPTH) -> Any:
    """Replace tensors in ``value`` by ``{"$t": index}`` and append their bytes to ``blobs``."""
    if depth > max_depth:
        raise DecodeError("value is nested too deeply")
    if isinstance(value, torch.Tensor):
        blobs.append(tensor_to_bytes(value))
        return {"$t": len(blobs) - 1}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"$tuple": [pack(v, blobs, depth + 1, max_depth) for v in value]}
    if isinstance(value, list):
        return [pack(v, blobs, depth + 1, max_depth) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[str(k), pack(v, blobs, depth + 1, max_depth)] for k, v in value.items()]}
    return {"$obj": type(value).__name__}


def unpack(skeleton: Any, blobs: list[bytes], depth: int = 0, max_depth: int = MAX_DEPTH) -> Any:
    """Inverse of :func:`pack`; unknown objects come back as :class:`Opaque`."""
    if depth > max_depth:
        raise DecodeError("value is nested too deeply")
    if skeleton is None or isinstance(skeleton, (bool, int, float, str)):
        return skeleton
    if isinstance(skeleton, list):
        return [unpack(v, blobs, depth + 1, max_depth) for v in skeleton]
    if isinstance(skeleton, dict) and len(skeleton) == 1:
        (key, inner), = skeleton.items()
        if key == "$t" and isinstance(inner, int) and 0 <= inner < len(blobs):
            return tensor_from_bytes(blobs[inner])
        if key == "$tuple" and isinstance(inner, list):
            return tuple(unpack(v, blobs, depth + 1, max_depth) for v in inner)
        if key == "$dict" and isinstance(inner, list):
            return {str(k): unpack(v, blobs, depth + 1, max_depth) for k, v in inner}
        if key == "$obj":
            return Opaque(str(inner))
    raise DecodeError("malformed packed value")


class Opaque:
    """Stands for a returned object that is not plain data (its type name only)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def to_json(value: Any) -> Any:
    """Self-contained JSON form (tensors inline as base64 ``.npy``), for fixture files."""
    blobs: list[bytes] = []
    skeleton = pack(value, blobs, max_depth=FILE_DEPTH)
    return {"value": skeleton, "blobs": [base64.b64encode(b).decode("ascii") for b in blobs]}


def from_json(data: Any) -> Any:
    """Inverse of :func:`to_json`."""
    return unpack(data["value"], [base64.b64decode(b) for b in data["blobs"]], max_depth=FILE_DEPTH)
