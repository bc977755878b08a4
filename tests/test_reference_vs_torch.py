"""The reference solutions in ``solutions/`` against PyTorch's built-in modules and functions.

``solutions/rnn.py`` and ``solutions/attention.py`` are what every student submission is graded
against, so they must compute the same function as ``torch.nn.LSTMCell``, ``torch.nn.GRUCell``,
``torch.nn.LSTM``, ``torch.nn.functional.scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention`` (same values and same gradients) when they hold the same weights.

The solution files are loaded by path (they are not a package and are not put on ``sys.path``).
"""
from __future__ import annotations

import importlib.util
import math
import zlib
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_solution(name: str) -> ModuleType:
    """Import ``solutions/<name>.py`` as a fresh module, without touching ``sys.path``."""
    path = REPO_ROOT / "solutions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_dlgrade_reference_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rnn = load_solution("rnn")
attention = load_solution("attention")

DTYPES = [torch.float32, torch.float64]
TOLERANCES = {
    torch.float32: dict(atol=1e-5, rtol=1e-4),
    torch.float64: dict(atol=1e-10, rtol=1e-7),
}


def assert_close(actual, expected, dtype, msg=None):
    # assert_close also checks shape, dtype and device.
    torch.testing.assert_close(actual, expected, **TOLERANCES[dtype], msg=msg)


def seed(*case) -> None:
    """Seed torch from the test case itself, so every case draws different (but fixed) data."""
    torch.manual_seed(zlib.crc32(repr(case).encode()))


def snapshot(*tensors):
    return [t.detach().clone() for t in tensors]


def assert_unchanged(tensors, copies):
    for t, c in zip(tensors, copies, strict=True):
        assert torch.equal(t.detach(), c), "the reference modified one of its inputs in place"


def grads(outputs, inputs, upstream):
    result = torch.autograd.grad(outputs, inputs, grad_outputs=upstream, allow_unused=False)
    assert all(g is not None for g in result)
    return result


# --------------------------------------------------------------------------------------------
# RNN cells
# --------------------------------------------------------------------------------------------

# (batch, input_size, hidden_size)
CELL_SHAPES = [(1, 1, 1), (1, 3, 1), (4, 1, 5), (3, 7, 4), (5, 10, 16), (2, 6, 33)]
CELL_GRAD_SHAPES = [(1, 1, 1), (3, 7, 4), (2, 5, 9)]


def make_lstm_cells(in_size, hidden, bias, dtype):
    ref = rnn.LSTMCell(in_size, hidden, bias=bias).to(dtype)
    ref_torch = torch.nn.LSTMCell(in_size, hidden, bias=bias).to(dtype)
    ref_torch.load_state_dict(ref.state_dict())  # strict: the parameter names must match torch's
    return ref, ref_torch


def make_gru_cells(in_size, hidden, bias, dtype):
    ref = rnn.GRUCell(in_size, hidden, bias=bias).to(dtype)
    ref_torch = torch.nn.GRUCell(in_size, hidden, bias=bias).to(dtype)
    ref_torch.load_state_dict(ref.state_dict())
    return ref, ref_torch


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(
    "cls, n_gates", [(rnn.LSTMCell, 4), (rnn.GRUCell, 3)], ids=["LSTMCell", "GRUCell"]
)
def test_cell_parameter_layout(cls, n_gates, bias):
    cell = cls(5, 3, bias=bias)
    assert cell.weight_ih.shape == (n_gates * 3, 5)
    assert cell.weight_hh.shape == (n_gates * 3, 3)
    if bias:
        assert cell.bias_ih.shape == cell.bias_hh.shape == (n_gates * 3,)
        assert len(list(cell.parameters())) == 4
    else:
        assert cell.bias_ih is None and cell.bias_hh is None
        assert len(list(cell.parameters())) == 2


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B, in_size, H", CELL_SHAPES)
def test_lstm_cell_forward(B, in_size, H, with_state, bias, dtype):
    seed("lstm_cell", B, in_size, H, with_state, bias, dtype)
    ref, ref_torch = make_lstm_cells(in_size, H, bias, dtype)
    x = torch.randn(B, in_size, dtype=dtype)
    if with_state:
        state = (torch.randn(B, H, dtype=dtype), 2 * torch.randn(B, H, dtype=dtype))
        inputs = [x, *state]
    else:
        state = None
        inputs = [x]
    copies = snapshot(*inputs)

    with torch.no_grad():
        h, c = ref(x, state)
        h_t, c_t = ref_torch(x, state)

    assert h.shape == c.shape == (B, H)
    assert_close(h, h_t, dtype)
    assert_close(c, c_t, dtype)
    assert_unchanged(inputs, copies)
    if not with_state:  # a zero state given explicitly is the same as None
        zeros = torch.zeros(B, H, dtype=dtype)
        with torch.no_grad():
            h0, c0 = ref(x, (zeros, zeros))
        assert_close(h, h0, dtype)
        assert_close(c, c0, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B, in_size, H", CELL_SHAPES)
def test_gru_cell_forward(B, in_size, H, with_state, bias, dtype):
    seed("gru_cell", B, in_size, H, with_state, bias, dtype)
    ref, ref_torch = make_gru_cells(in_size, H, bias, dtype)
    x = torch.randn(B, in_size, dtype=dtype)
    h0 = torch.randn(B, H, dtype=dtype) if with_state else None
    inputs = [x, h0] if with_state else [x]
    copies = snapshot(*inputs)

    with torch.no_grad():
        h = ref(x, h0)
        h_t = ref_torch(x, h0)

    assert h.shape == (B, H)
    assert_close(h, h_t, dtype)
    assert_unchanged(inputs, copies)
    if not with_state:
        with torch.no_grad():
            assert_close(h, ref(x, torch.zeros(B, H, dtype=dtype)), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B, in_size, H", CELL_GRAD_SHAPES)
def test_lstm_cell_gradients(B, in_size, H, with_state, bias, dtype):
    seed("lstm_cell_grad", B, in_size, H, with_state, bias, dtype)
    ref, ref_torch = make_lstm_cells(in_size, H, bias, dtype)
    x = torch.randn(B, in_size, dtype=dtype, requires_grad=True)
    if with_state:
        state = (
            torch.randn(B, H, dtype=dtype, requires_grad=True),
            torch.randn(B, H, dtype=dtype, requires_grad=True),
        )
        inputs = [x, *state]
    else:
        state = None
        inputs = [x]
    upstream = (torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype))

    ref_params = [p for _, p in sorted(ref.named_parameters())]
    torch_params = [p for _, p in sorted(ref_torch.named_parameters())]
    assert len(ref_params) == len(torch_params) == (4 if bias else 2)

    g_ref = grads(ref(x, state), inputs + ref_params, upstream)
    g_torch = grads(ref_torch(x, state), inputs + torch_params, upstream)
    for a, b in zip(g_ref, g_torch, strict=True):
        assert_close(a, b, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B, in_size, H", CELL_GRAD_SHAPES)
def test_gru_cell_gradients(B, in_size, H, with_state, bias, dtype):
    seed("gru_cell_grad", B, in_size, H, with_state, bias, dtype)
    ref, ref_torch = make_gru_cells(in_size, H, bias, dtype)
    x = torch.randn(B, in_size, dtype=dtype, requires_grad=True)
    h0 = torch.randn(B, H, dtype=dtype, requires_grad=True) if with_state else None
    inputs = [x, h0] if with_state else [x]
    upstream = torch.randn(B, H, dtype=dtype)

    ref_params = [p for _, p in sorted(ref.named_parameters())]
    torch_params = [p for _, p in sorted(ref_torch.named_parameters())]
    assert len(ref_params) == len(torch_params) == (4 if bias else 2)

    g_ref = grads(ref(x, h0), inputs + ref_params, upstream)
    g_torch = grads(ref_torch(x, h0), inputs + torch_params, upstream)
    for a, b in zip(g_ref, g_torch, strict=True):
        assert_close(a, b, dtype)


# --------------------------------------------------------------------------------------------
# LSTM layer
# --------------------------------------------------------------------------------------------

# (batch, time, input_size, hidden_size)
LSTM_SHAPES = [(1, 1, 1, 1), (1, 5, 3, 2), (3, 1, 4, 6), (4, 6, 5, 8), (2, 9, 1, 3), (3, 4, 6, 1)]
LSTM_GRAD_SHAPES = [(1, 1, 2, 1), (3, 5, 4, 6), (2, 7, 3, 2)]


def make_lstms(in_size, hidden, bias, dtype):
    ref = rnn.LSTM(in_size, hidden, bias=bias).to(dtype)
    ref_torch = torch.nn.LSTM(in_size, hidden, bias=bias, batch_first=True).to(dtype)
    # torch names the layer-0 parameters weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0.
    ref_torch.load_state_dict({f"{k}_l0": v for k, v in ref.cell.state_dict().items()})
    return ref, ref_torch


def lstm_param_pairs(ref, ref_torch):
    pairs = [(p, getattr(ref_torch, f"{name}_l0")) for name, p in ref.cell.named_parameters()]
    assert len(pairs) == len(list(ref_torch.parameters()))
    return pairs


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B, T, in_size, H", LSTM_SHAPES)
def test_lstm_forward(B, T, in_size, H, with_state, bias, dtype):
    seed("lstm", B, T, in_size, H, with_state, bias, dtype)
    ref, ref_torch = make_lstms(in_size, H, bias, dtype)
    assert isinstance(ref.cell, rnn.LSTMCell)
    x = torch.randn(B, T, in_size, dtype=dtype)
    if with_state:
        state = (torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype))
        torch_state = (state[0].unsqueeze(0), state[1].unsqueeze(0))
        inputs = [x, *state]
    else:
        state = torch_state = None
        inputs = [x]
    copies = snapshot(*inputs)

    with torch.no_grad():
        out, (h_n, c_n) = ref(x, state)
        out_t, (h_t, c_t) = ref_torch(x, torch_state)

    assert out.shape == (B, T, H)
    assert h_n.shape == c_n.shape == (B, H)
    assert_close(out, out_t, dtype)
    assert_close(h_n, h_t.squeeze(0), dtype)
    assert_close(c_n, c_t.squeeze(0), dtype)
    assert_close(out[:, -1], h_n, dtype)
    assert_unchanged(inputs, copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("B, T, in_size, H", LSTM_GRAD_SHAPES)
def test_lstm_gradients(B, T, in_size, H, with_state, bias, dtype):
    seed("lstm_grad", B, T, in_size, H, with_state, bias, dtype)
    ref, ref_torch = make_lstms(in_size, H, bias, dtype)
    x = torch.randn(B, T, in_size, dtype=dtype, requires_grad=True)
    if with_state:
        h0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
        c0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
        state, torch_state, inputs = (h0, c0), (h0.unsqueeze(0), c0.unsqueeze(0)), [x, h0, c0]
    else:
        state = torch_state = None
        inputs = [x]
    g_out = torch.randn(B, T, H, dtype=dtype)
    g_h, g_c = torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype)
    ref_params, torch_params = map(list, zip(*lstm_param_pairs(ref, ref_torch)))

    out, (h_n, c_n) = ref(x, state)
    g_ref = grads([out, h_n, c_n], inputs + ref_params, [g_out, g_h, g_c])
    out_t, (h_t, c_t) = ref_torch(x, torch_state)
    g_torch = grads(
        [out_t, h_t, c_t], inputs + torch_params, [g_out, g_h.unsqueeze(0), g_c.unsqueeze(0)]
    )
    for a, b in zip(g_ref, g_torch, strict=True):
        assert_close(a, b, dtype)


# --------------------------------------------------------------------------------------------
# Scaled dot-product attention
# --------------------------------------------------------------------------------------------


def padding_mask(lead, n_K, mask_dtype):
    """Keys ``>= length`` are blocked, one random length in ``[1, n_K]`` per leading index.

    Shape ``lead + [1, n_K]``: broadcast over the queries.
    """
    lengths = torch.randint(1, n_K + 1, tuple(lead) + (1, 1))
    lengths.view(-1)[0] = n_K  # at least one unpadded sequence
    return (torch.arange(n_K) < lengths).to(mask_dtype)


def causal_mask(n, mask_dtype):
    return torch.tril(torch.ones(n, n, dtype=torch.bool)).to(mask_dtype)


def random_mask(shape, mask_dtype):
    """A full-shape random mask in which every query row keeps at least one key."""
    allowed = torch.rand(shape) < 0.5
    keep = torch.randint(0, shape[-1], tuple(shape[:-1]) + (1,))
    allowed.scatter_(-1, keep, True)
    return allowed.to(mask_dtype)


def make_mask(kind, lead, n_Q, n_K, mask_dtype):
    if kind is None:
        return None
    if kind == "padding":
        return padding_mask(lead, n_K, mask_dtype)
    if kind == "causal":
        assert n_Q == n_K
        return causal_mask(n_Q, mask_dtype)
    if kind == "random":
        return random_mask(tuple(lead) + (n_Q, n_K), mask_dtype)
    raise AssertionError(kind)


def expected_attention(Q, K, mask):
    """softmax(Q K^T / sqrt(d_k)) over the allowed keys, written without masked_fill/-inf."""
    scores = torch.einsum("...qd,...kd->...qk", Q, K) * (Q.shape[-1] ** -0.5)
    if mask is None:
        allowed = torch.ones_like(scores, dtype=torch.bool)
    else:
        allowed = torch.broadcast_to(mask != 0, scores.shape)
    minus_inf = scores.new_tensor(float("-inf"))
    shift = torch.where(allowed, scores, minus_inf).amax(-1, keepdim=True).detach()
    weights = torch.exp(torch.where(allowed, scores - shift, minus_inf))
    return weights / weights.sum(-1, keepdim=True)


def torch_sdpa(Q, K, V, mask):
    # torch's bool attn_mask uses the same convention (True = may attend); a 0/1 int or float mask
    # must become bool first (a float attn_mask is *added* to the scores in torch).
    return F.scaled_dot_product_attention(Q, K, V, attn_mask=None if mask is None else mask != 0)


MASK_DTYPES = {"bool": torch.bool, "int": torch.int64, "float": "float"}

# (lead, n_Q, n_K, d_k, d_v, mask kind)
SDPA_CASES = [
    ((), 1, 1, 1, 1, None),
    ((), 3, 5, 4, 2, None),
    ((), 4, 6, 8, 8, "padding"),
    ((), 5, 5, 3, 7, "causal"),
    ((), 4, 3, 5, 2, "random"),
    ((2,), 1, 4, 6, 3, None),
    ((2,), 4, 7, 5, 6, "padding"),
    ((2,), 6, 6, 12, 4, "causal"),
    ((2,), 5, 2, 3, 3, "random"),
    ((2, 3), 2, 3, 4, 5, None),
    ((2, 3), 5, 4, 6, 2, "padding"),
    ((2, 3), 4, 4, 16, 8, "causal"),
    ((2, 3), 3, 6, 2, 1, "random"),
    ((1, 2, 3), 4, 5, 3, 4, "padding"),
]
SDPA_IDS = [f"lead{list(c[0])}-nQ{c[1]}-nK{c[2]}-dk{c[3]}-dv{c[4]}-{c[5]}" for c in SDPA_CASES]


def sdpa_mask_variants():
    for case, case_id in zip(SDPA_CASES, SDPA_IDS):
        mask_dtypes = ["bool"] if case[-1] is None else list(MASK_DTYPES)
        for mask_dtype in mask_dtypes:
            yield pytest.param(*case, mask_dtype, id=f"{case_id}-{mask_dtype}")


def sdpa_inputs(lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype, requires_grad=False):
    Q = torch.randn(*lead, n_Q, d_k, dtype=dtype, requires_grad=requires_grad)
    K = torch.randn(*lead, n_K, d_k, dtype=dtype, requires_grad=requires_grad)
    V = torch.randn(*lead, n_K, d_v, dtype=dtype, requires_grad=requires_grad)
    mask_dtype = dtype if MASK_DTYPES[mask_dtype] == "float" else MASK_DTYPES[mask_dtype]
    mask = make_mask(kind, lead, n_Q, n_K, mask_dtype)
    return Q, K, V, mask


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("lead, n_Q, n_K, d_k, d_v, kind, mask_dtype", list(sdpa_mask_variants()))
def test_sdpa_forward(lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype):
    seed("sdpa", lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype)
    Q, K, V, mask = sdpa_inputs(lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype)
    inputs = [Q, K, V] + ([] if mask is None else [mask])
    copies = snapshot(*inputs)

    out, attn = attention.scaled_dot_product_attention(Q, K, V, mask)

    assert out.shape == (*lead, n_Q, d_v)
    assert attn.shape == (*lead, n_Q, n_K)
    assert_close(out, torch_sdpa(Q, K, V, mask), dtype)
    assert_close(attn, expected_attention(Q, K, mask), dtype)
    assert_close(attn.sum(-1), torch.ones(*lead, n_Q, dtype=dtype), dtype)
    if mask is not None:
        blocked = torch.broadcast_to(mask == 0, attn.shape)
        assert torch.all(attn[blocked] == 0), "blocked keys must get exactly zero weight"
    assert_unchanged(inputs, copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "lead, n_Q, n_K, d_k, d_v, kind, mask_dtype",
    [p for p in sdpa_mask_variants() if p.values[-1] in ("bool", "int")],
)
def test_sdpa_gradients(lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype):
    seed("sdpa_grad", lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype)
    Q, K, V, mask = sdpa_inputs(lead, n_Q, n_K, d_k, d_v, kind, mask_dtype, dtype, True)
    g_out = torch.randn(*lead, n_Q, d_v, dtype=dtype)
    g_attn = torch.randn(*lead, n_Q, n_K, dtype=dtype)

    out, attn = attention.scaled_dot_product_attention(Q, K, V, mask)
    g_ref = grads([out, attn], [Q, K, V], [g_out, g_attn])
    g_torch = grads(
        [torch_sdpa(Q, K, V, mask), expected_attention(Q, K, mask)], [Q, K, V], [g_out, g_attn]
    )
    for a, b in zip(g_ref, g_torch, strict=True):
        assert torch.isfinite(a).all()
        assert_close(a, b, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sdpa_non_contiguous_inputs(dtype):
    seed("sdpa_noncontig", dtype)
    Q = torch.randn(2, 6, 3, dtype=dtype).transpose(-2, -1)  # [2, 3, 6]
    K = torch.randn(2, 6, 5, dtype=dtype).transpose(-2, -1)  # [2, 5, 6]
    V = torch.randn(5, 2, 4, dtype=dtype).permute(1, 0, 2)  # [2, 5, 4]
    mask = random_mask((2, 3, 5), torch.bool)
    assert not (Q.is_contiguous() or K.is_contiguous() or V.is_contiguous())
    out, attn = attention.scaled_dot_product_attention(Q, K, V, mask)
    assert_close(out, torch_sdpa(Q, K, V, mask), dtype)
    assert_close(attn, expected_attention(Q, K, mask), dtype)


# --------------------------------------------------------------------------------------------
# Multi-head attention
# --------------------------------------------------------------------------------------------


def make_mhas(d_feat, n_head, bias, dtype):
    ref = attention.MultiHeadedAttention(d_feat, n_head, bias=bias).to(dtype)
    ref_torch = torch.nn.MultiheadAttention(
        d_feat, n_head, bias=bias, batch_first=True, dropout=0.0
    ).to(dtype)
    state = {
        "in_proj_weight": torch.cat([ref.lin_Q.weight, ref.lin_K.weight, ref.lin_V.weight]),
        "out_proj.weight": ref.lin_O.weight,
    }
    if bias:
        state["in_proj_bias"] = torch.cat([ref.lin_Q.bias, ref.lin_K.bias, ref.lin_V.bias])
        state["out_proj.bias"] = ref.lin_O.bias
    ref_torch.load_state_dict({k: v.detach() for k, v in state.items()})
    # Train mode (dropout is 0, so it is deterministic) keeps torch off its fused fast path.
    ref_torch.train()
    return ref, ref_torch


def torch_mha_mask(mask, B, n_head, n_Q, n_K):
    """Our mask (True/1 = attend, broadcastable to [B, n_head, n_Q, n_K]) in torch's attn_mask form
    (True = blocked; 2D [n_Q, n_K] or 3D [B * n_head, n_Q, n_K], index b * n_head + h)."""
    if mask is None:
        return None
    blocked = mask == 0
    if blocked.dim() == 2:
        return blocked
    return torch.broadcast_to(blocked, (B, n_head, n_Q, n_K)).reshape(B * n_head, n_Q, n_K)


def run_torch_mha(ref_torch, Q, K, V, mask, n_head):
    B, n_Q, _ = Q.shape
    n_K = K.shape[1]
    return ref_torch(
        Q, K, V,
        attn_mask=torch_mha_mask(mask, B, n_head, n_Q, n_K),
        need_weights=True,
        average_attn_weights=False,
    )


def mha_mask(kind, B, n_head, n_Q, n_K, mask_dtype):
    if kind is None:
        return None
    if kind == "padding":
        return padding_mask((B, 1), n_K, mask_dtype)  # [B, 1, 1, n_K]
    if kind == "causal":
        return causal_mask(n_Q, mask_dtype)  # [n_Q, n_K]
    if kind == "random":
        return random_mask((B, n_head, n_Q, n_K), mask_dtype)
    raise AssertionError(kind)


# (B, n_Q, n_K, d_feat, n_head, mask kind)
MHA_CASES = [
    (1, 1, 1, 1, 1, None),
    (1, 3, 5, 4, 1, None),
    (2, 4, 6, 8, 2, None),
    (3, 5, 2, 12, 3, None),
    (2, 3, 7, 12, 3, "padding"),
    (4, 6, 6, 16, 4, "padding"),
    (1, 4, 4, 6, 6, "padding"),
    (2, 5, 5, 12, 3, "causal"),
    (1, 7, 7, 8, 1, "causal"),
    (3, 4, 4, 10, 5, "causal"),
    (2, 3, 5, 12, 4, "random"),
    (1, 6, 2, 9, 3, "random"),
]
MHA_IDS = [f"B{c[0]}-nQ{c[1]}-nK{c[2]}-d{c[3]}-h{c[4]}-{c[5]}" for c in MHA_CASES]


def mha_variants(mask_dtypes=("bool", "int")):
    for case, case_id in zip(MHA_CASES, MHA_IDS):
        for mask_dtype in (["bool"] if case[-1] is None else mask_dtypes):
            yield pytest.param(*case, mask_dtype, id=f"{case_id}-{mask_dtype}")


def mha_inputs(B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, dtype, requires_grad=False):
    Q = torch.randn(B, n_Q, d_feat, dtype=dtype, requires_grad=requires_grad)
    K = torch.randn(B, n_K, d_feat, dtype=dtype, requires_grad=requires_grad)
    V = torch.randn(B, n_K, d_feat, dtype=dtype, requires_grad=requires_grad)
    mask = mha_mask(kind, B, n_head, n_Q, n_K, MASK_DTYPES[mask_dtype])
    return Q, K, V, mask


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("B, n_Q, n_K, d_feat, n_head, kind, mask_dtype", list(mha_variants()))
def test_mha_forward(B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, bias, dtype):
    seed("mha", B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, bias, dtype)
    ref, ref_torch = make_mhas(d_feat, n_head, bias, dtype)
    Q, K, V, mask = mha_inputs(B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, dtype)
    inputs = [Q, K, V] + ([] if mask is None else [mask])
    copies = snapshot(*inputs)

    with torch.no_grad():
        out, attn = ref(Q, K, V, mask)
        out_t, attn_t = run_torch_mha(ref_torch, Q, K, V, mask, n_head)

    assert out.shape == (B, n_Q, d_feat)
    assert attn.shape == (B, n_head, n_Q, n_K)
    assert_close(out, out_t, dtype)
    assert_close(attn, attn_t, dtype)
    if mask is not None:
        blocked = torch.broadcast_to(mask == 0, attn.shape)
        assert torch.all(attn[blocked] == 0)
    assert_unchanged(inputs, copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mha_self_attention_and_key_padding_mask(dtype):
    """Q is K is V, and a padding mask given to torch as key_padding_mask instead."""
    seed("mha_self", dtype)
    B, n, d_feat, n_head = 3, 5, 12, 3
    ref, ref_torch = make_mhas(d_feat, n_head, True, dtype)
    X = torch.randn(B, n, d_feat, dtype=dtype)
    mask = padding_mask((B, 1), n, torch.bool)  # [B, 1, 1, n]
    with torch.no_grad():
        out, attn = ref(X, X, X, mask)
        out_t, attn_t = ref_torch(
            X, X, X, key_padding_mask=~mask.view(B, n),
            need_weights=True, average_attn_weights=False,
        )
    assert_close(out, out_t, dtype)
    assert_close(attn, attn_t, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(
    "B, n_Q, n_K, d_feat, n_head, kind, mask_dtype", list(mha_variants(("bool",)))
)
def test_mha_gradients(B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, bias, dtype):
    seed("mha_grad", B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, bias, dtype)
    ref, ref_torch = make_mhas(d_feat, n_head, bias, dtype)
    Q, K, V, mask = mha_inputs(B, n_Q, n_K, d_feat, n_head, kind, mask_dtype, dtype, True)
    g_out = torch.randn(B, n_Q, d_feat, dtype=dtype)
    g_attn = torch.randn(B, n_head, n_Q, n_K, dtype=dtype)

    lins = [ref.lin_Q, ref.lin_K, ref.lin_V, ref.lin_O]
    ref_params = [lin.weight for lin in lins] + ([lin.bias for lin in lins] if bias else [])
    torch_params = [ref_torch.in_proj_weight, ref_torch.out_proj.weight]
    if bias:
        torch_params += [ref_torch.in_proj_bias, ref_torch.out_proj.bias]
    assert len(list(ref.parameters())) == len(ref_params)
    assert len(list(ref_torch.parameters())) == len(torch_params)

    out, attn = ref(Q, K, V, mask)
    g_ref = grads([out, attn], [Q, K, V] + ref_params, [g_out, g_attn])
    out_t, attn_t = run_torch_mha(ref_torch, Q, K, V, mask, n_head)
    g_torch = grads([out_t, attn_t], [Q, K, V] + torch_params, [g_out, g_attn])

    # torch stacks the Q/K/V projections into in_proj_*; stack ours the same way.
    g_inputs, g_ref = list(g_ref[:3]), list(g_ref[3:])
    g_ref_params = [torch.cat(g_ref[0:3]), g_ref[3]]
    if bias:
        g_ref_params += [torch.cat(g_ref[4:7]), g_ref[7]]
    for a, b in zip(g_inputs + g_ref_params, g_torch, strict=True):
        assert_close(a, b, dtype)


@pytest.mark.parametrize("d_feat, n_head", [(10, 3), (7, 2), (5, 10), (12, 5), (1, 2)])
def test_mha_rejects_indivisible_d_feat(d_feat, n_head):
    with pytest.raises(ValueError):
        attention.MultiHeadedAttention(d_feat, n_head)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("d_feat, n_head", [(1, 1), (12, 3), (12, 12), (9, 3)])
def test_mha_layout(d_feat, n_head, bias):
    mha = attention.MultiHeadedAttention(d_feat, n_head, bias=bias)
    assert mha.d_head * n_head == d_feat
    for lin in (mha.lin_Q, mha.lin_K, mha.lin_V, mha.lin_O):
        assert lin.weight.shape == (d_feat, d_feat)
        assert (lin.bias is not None) == bias
