"""``dlgrade.exposed.tensorio``: tensors keep their dtype and shape through encoding, packing and a worker,
0-d (scalar) tensors included."""
from __future__ import annotations

import pytest
import torch

from dlgrade.exposed.tensorio import decode_tensor, encode_tensor, pack, unpack
from dlgrade.supervisor.client import WorkerClient
from dlgrade.supervisor.submission import Chunk, Submission

TENSORS = {
    "scalar_float32": torch.tensor(2.5),
    "scalar_float64": torch.tensor(-1.25, dtype=torch.float64),
    "scalar_int64": torch.tensor(7),
    "scalar_bool": torch.tensor(True),
    "empty": torch.zeros(0, 3),
    "one": torch.ones(1),
    "matrix": torch.arange(6.0).reshape(2, 3),
    "transposed": torch.arange(6.0).reshape(2, 3).T,  # not contiguous
}


@pytest.mark.parametrize("name", TENSORS)
def test_encode_decode_keeps_dtype_shape_and_values(name):
    tensor = TENSORS[name]
    meta, data = encode_tensor(tensor)
    assert meta["shape"] == list(tensor.shape)
    back = decode_tensor(meta, data)
    assert back.dtype == tensor.dtype and back.shape == tensor.shape
    assert torch.equal(back, tensor)


def test_pack_unpack_keeps_scalar_tensors_0d():
    value = {"loss": torch.tensor(0.5), "parts": (torch.tensor(1.0, dtype=torch.float64), [torch.ones(2)])}
    blobs: list[bytes] = []
    back = unpack(pack(value, blobs), blobs)
    assert back["loss"].shape == () and back["parts"][0].shape == () and back["parts"][1][0].shape == (2,)
    assert torch.equal(back["loss"], value["loss"])


def test_a_worker_returns_a_scalar_and_backpropagates_from_it():
    source = "def f(x, w):\n    return (x * w).sum()\n"
    request = {"op": "call", "target": "f", "init": None, "dtype": "float32", "method": "forward",
               "args": [torch.arange(3.0), torch.tensor(2.0)], "kwargs": {}, "state_dict": None,
               "grad_outputs": torch.tensor(3.0)}
    with WorkerClient(Submission("t", [Chunk("t.py", source)]), "t", {}) as client:
        answer = client.request(request)
    assert answer["ok"], answer
    assert answer["out"].shape == () and answer["out"].item() == 6.0
    grad_x, grad_w = answer["grads"]["inputs"]
    assert torch.equal(grad_x, torch.full((3,), 6.0))
    assert grad_w.shape == () and grad_w.item() == 9.0
