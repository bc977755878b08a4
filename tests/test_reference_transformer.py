"""The ``transformer`` reference against PyTorch: ``EncoderLayer`` is
``torch.nn.TransformerEncoderLayer(d_model, n_head, d_ff, dropout=0, batch_first=True,
norm_first=False)`` with the weights copied across, and ``positional_encoding`` is the formula of
"Attention Is All You Need" (computed here in float64, entry by entry).

Also: the torch functions that ``nn.TransformerEncoderLayer`` / ``nn.TransformerEncoder`` end in
are the assignment's FORBIDDEN ones, and a submission using them scores 0 on the tests that run it.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_reference_vs_torch import (
    DTYPES,
    MASK_DTYPES,
    assert_close,
    assert_unchanged,
    grads,
    mha_mask,
    padding_mask,
    seed,
    snapshot,
    torch_mha_mask,
)

from dlgrade.authoring.mistakes import module_from_source
from dlgrade.authoring.registry import get_assignment
from dlgrade.exposed import execute

ASSIGNMENT = get_assignment("transformer")
transformer = module_from_source(ASSIGNMENT.reference_source, "_dlgrade_reference_transformer",
                                 "<reference transformer>")


# --------------------------------------------------------------------------------------------
# positional_encoding
# --------------------------------------------------------------------------------------------

def formula(n_position: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(the same), in float64."""
    table = torch.empty(n_position, d_model, dtype=torch.float64)
    for pos in range(n_position):
        for j in range(d_model):
            angle = pos / 10000 ** ((j - j % 2) / d_model)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


PE_SHAPES = [(1, 1), (1, 8), (6, 1), (5, 2), (4, 5), (9, 7), (12, 16), (7, 6), (64, 64), (100, 33), (50, 512)]


@pytest.mark.parametrize("n_position, d_model", PE_SHAPES)
def test_positional_encoding_is_the_formula(n_position, d_model):
    pe = transformer.positional_encoding(n_position, d_model)
    assert pe.dtype == torch.float32 and pe.shape == (n_position, d_model)
    assert not pe.requires_grad
    assert_close(pe, formula(n_position, d_model).to(torch.float32), torch.float32)
    # computed in float64 and rounded once: as close to the formula as float32 gets
    assert torch.equal(pe, formula(n_position, d_model).to(torch.float32)) or \
        (pe.double() - formula(n_position, d_model)).abs().max() < 1e-7


@pytest.mark.parametrize("d_model", [1, 2, 7, 8])
def test_positional_encoding_pairs_and_position_zero(d_model):
    pe = transformer.positional_encoding(30, d_model).double()
    even, odd = pe[:, 0::2], pe[:, 1::2]
    assert torch.equal(pe[0, 0::2], torch.zeros(len(range(0, d_model, 2)), dtype=torch.float64))  # sin 0
    assert torch.equal(pe[0, 1::2], torch.ones(d_model // 2, dtype=torch.float64))  # cos 0
    # features 2i and 2i+1 share their angle: sin^2 + cos^2 = 1 (an odd d_model's last sine has no partner)
    pairs = d_model // 2
    assert_close(even[:, :pairs] ** 2 + odd ** 2, torch.ones(30, pairs, dtype=torch.float64), torch.float32)
    # feature 0 is sin(pos) itself
    assert_close(pe[:, 0], torch.sin(torch.arange(30, dtype=torch.float64)), torch.float32)


# --------------------------------------------------------------------------------------------
# EncoderLayer
# --------------------------------------------------------------------------------------------

def make_layers(d_model, n_head, d_ff, dtype, eps=1e-5, fresh_norms=False):
    """The reference layer and ``nn.TransformerEncoderLayer`` holding the same weights; unless
    ``fresh_norms``, the LayerNorms get random weights and biases (fresh ones are the identity)."""
    ref = transformer.EncoderLayer(d_model, n_head, d_ff, eps=eps).to(dtype)
    if not fresh_norms:
        with torch.no_grad():
            for norm in (ref.norm1, ref.norm2):
                norm.weight.copy_(1 + 0.5 * torch.randn(d_model, dtype=dtype))
                norm.bias.copy_(0.5 * torch.randn(d_model, dtype=dtype))
    ref_torch = torch.nn.TransformerEncoderLayer(
        d_model, n_head, d_ff, dropout=0.0, activation="relu", layer_norm_eps=eps, batch_first=True,
        norm_first=False,
    ).to(dtype)
    attn = ref.self_attn
    state = {
        "self_attn.in_proj_weight": torch.cat([attn.lin_Q.weight, attn.lin_K.weight, attn.lin_V.weight]),
        "self_attn.in_proj_bias": torch.cat([attn.lin_Q.bias, attn.lin_K.bias, attn.lin_V.bias]),
        "self_attn.out_proj.weight": attn.lin_O.weight, "self_attn.out_proj.bias": attn.lin_O.bias,
        "linear1.weight": ref.ff1.weight, "linear1.bias": ref.ff1.bias,
        "linear2.weight": ref.ff2.weight, "linear2.bias": ref.ff2.bias,
    }
    for norm in ("norm1", "norm2"):
        for p in ("weight", "bias"):
            state[f"{norm}.{p}"] = getattr(getattr(ref, norm), p)
    ref_torch.load_state_dict({k: v.detach() for k, v in state.items()})  # strict: every parameter
    return ref, ref_torch


def param_pairs(ref, ref_torch):
    """(torch's parameter, our parameters whose gradients stacked make its gradient), for all of torch's."""
    attn = ref.self_attn
    pairs = [
        (ref_torch.self_attn.in_proj_weight, [attn.lin_Q.weight, attn.lin_K.weight, attn.lin_V.weight]),
        (ref_torch.self_attn.in_proj_bias, [attn.lin_Q.bias, attn.lin_K.bias, attn.lin_V.bias]),
        (ref_torch.self_attn.out_proj.weight, [attn.lin_O.weight]),
        (ref_torch.self_attn.out_proj.bias, [attn.lin_O.bias]),
        (ref_torch.linear1.weight, [ref.ff1.weight]), (ref_torch.linear1.bias, [ref.ff1.bias]),
        (ref_torch.linear2.weight, [ref.ff2.weight]), (ref_torch.linear2.bias, [ref.ff2.bias]),
    ] + [(getattr(getattr(ref_torch, norm), p), [getattr(getattr(ref, norm), p)])
         for norm in ("norm1", "norm2") for p in ("weight", "bias")]
    assert len(pairs) == len(list(ref_torch.parameters()))
    assert sum(len(ours) for _, ours in pairs) == len(list(ref.parameters()))
    return pairs


def run_torch_layer(ref_torch, x, mask, n_head):
    """torch's layer output, and its self-attention weights from the same module (torch's layer does
    not return them). Our mask (True = attend) becomes torch's (True = blocked)."""
    B, n, _ = x.shape
    torch_mask = torch_mha_mask(mask, B, n_head, n, n)
    out = ref_torch(x, src_mask=torch_mask)
    _, attention = ref_torch.self_attn(x, x, x, attn_mask=torch_mask, need_weights=True,
                                       average_attn_weights=False)
    return out, attention


# (B, n, d_model, n_head, d_ff), each with every mask below
LAYER_SHAPES = [(1, 1, 1, 1, 1), (1, 4, 6, 1, 3), (2, 5, 8, 2, 16), (3, 4, 12, 4, 20), (4, 6, 16, 4, 32),
                (2, 7, 9, 3, 4)]
MASKS = [None, ("padding", "bool"), ("padding", "int"), ("causal", "bool"), ("causal", "int"), ("random", "bool")]
shapes = pytest.mark.parametrize("B, n, d_model, n_head, d_ff", LAYER_SHAPES,
                                 ids=["B{}-n{}-d{}-h{}-ff{}".format(*c) for c in LAYER_SHAPES])


def masks(*kinds):
    chosen = [m for m in MASKS if m is None or not kinds or m in kinds]
    return pytest.mark.parametrize("mask_kind", chosen, ids=["-".join(m) if m else "no_mask" for m in chosen])


def layer_inputs(B, n, d_model, n_head, mask_kind, dtype, requires_grad=False):
    x = torch.randn(B, n, d_model, dtype=dtype, requires_grad=requires_grad)
    if mask_kind is None:
        return x, None
    kind, mask_dtype = mask_kind
    return x, mha_mask(kind, B, n_head, n, n, MASK_DTYPES[mask_dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fresh_norms", [False, True], ids=["trained_norms", "fresh_norms"])
@masks()
@shapes
def test_encoder_layer_forward(B, n, d_model, n_head, d_ff, mask_kind, fresh_norms, dtype):
    seed("encoder", B, n, d_model, n_head, d_ff, mask_kind, fresh_norms, dtype)
    ref, ref_torch = make_layers(d_model, n_head, d_ff, dtype, fresh_norms=fresh_norms)
    x, mask = layer_inputs(B, n, d_model, n_head, mask_kind, dtype)
    inputs = [x] + ([] if mask is None else [mask])
    copies = snapshot(*inputs)

    with torch.no_grad():
        out, attention = ref(x, mask)
        out_t, attention_t = run_torch_layer(ref_torch, x, mask, n_head)

    assert out.shape == (B, n, d_model) and attention.shape == (B, n_head, n, n)
    assert_close(out, out_t, dtype)
    assert_close(attention, attention_t, dtype)
    if mask is not None:
        assert torch.all(attention[torch.broadcast_to(mask == 0, attention.shape)] == 0)
    assert_unchanged(inputs, copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_encoder_layer_eps_and_torch_fast_path(eps, dtype):
    """Another eps; torch's layer in eval mode without autograd (its fused kernel where it can)."""
    seed("encoder_eval", eps, dtype)
    B, n, d_model, n_head = 3, 5, 8, 2
    ref, ref_torch = make_layers(d_model, n_head, 12, dtype, eps=eps)
    ref_torch.eval()
    x = torch.randn(B, n, d_model, dtype=dtype)
    mask = padding_mask((B, 1), n, torch.bool)
    with torch.no_grad():
        out, _ = ref(x, mask)
        out_t = ref_torch(x, src_key_padding_mask=~mask.view(B, n))  # True = padding there
    lengths = mask.view(B, n).sum(-1)
    for b in range(B):  # the fused kernel may leave padded positions as it likes
        assert_close(out[b, :lengths[b]], out_t[b, :lengths[b]], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@masks(("padding", "bool"), ("causal", "bool"), ("random", "bool"))
@shapes
def test_encoder_layer_gradients(B, n, d_model, n_head, d_ff, mask_kind, dtype):
    seed("encoder_grad", B, n, d_model, n_head, d_ff, mask_kind, dtype)
    ref, ref_torch = make_layers(d_model, n_head, d_ff, dtype)
    x, mask = layer_inputs(B, n, d_model, n_head, mask_kind, dtype, requires_grad=True)
    g_out = torch.randn(B, n, d_model, dtype=dtype)
    g_attention = torch.randn(B, n_head, n, n, dtype=dtype)
    pairs = param_pairs(ref, ref_torch)
    ours = [p for _, group in pairs for p in group]
    theirs = [p for p, _ in pairs]

    g_ref = grads(list(ref(x, mask)), [x] + ours, [g_out, g_attention])
    g_torch = grads(list(run_torch_layer(ref_torch, x, mask, n_head)), [x] + theirs, [g_out, g_attention])

    assert_close(g_ref[0], g_torch[0], dtype, msg="gradient w.r.t. x")
    g_ours = iter(g_ref[1:])
    for (param, group), expected in zip(pairs, g_torch[1:], strict=True):
        stacked = torch.cat([next(g_ours) for _ in group])
        assert_close(stacked, expected, dtype)


def test_encoder_layer_keeps_the_handed_out_layout():
    layer = transformer.EncoderLayer(12, 3, 7, eps=1e-3)
    assert isinstance(layer.self_attn, transformer.MultiHeadedAttention)
    assert (layer.self_attn.n_head, layer.self_attn.d_head) == (3, 4)
    assert layer.ff1.weight.shape == (7, 12) and layer.ff2.weight.shape == (12, 7)
    assert layer.norm1.normalized_shape == layer.norm2.normalized_shape == (12,)
    assert layer.norm1.eps == layer.norm2.eps == 1e-3
    assert transformer.EncoderLayer(4, 2, 8).norm1.eps == 1e-5
    with pytest.raises(ValueError):
        transformer.EncoderLayer(10, 3, 4)


# --------------------------------------------------------------------------------------------
# Forbidden built-ins
# --------------------------------------------------------------------------------------------

BUILTIN_LAYER = '''
import torch
import torch.nn as nn


class EncoderLayer(nn.Module):
    def __init__(self, d_model, n_head, d_ff, eps=1e-5):
        super().__init__()
        self.inner = nn.TransformerEncoderLayer(d_model, n_head, d_ff, dropout=0.0, batch_first=True,
                                                layer_norm_eps=eps)
        if STACK:
            self.inner = nn.TransformerEncoder(self.inner, num_layers=1, enable_nested_tensor=False)
        self.inner.train(TRAIN)

    def forward(self, x, mask=None):
        with torch.set_grad_enabled(GRAD):
            out = self.inner(x)
        return out, out
'''


def test_the_forbidden_names_are_where_torch_ends_up(monkeypatch):
    """nn.TransformerEncoderLayer's fast path (eval, no autograd) ends in
    torch._transformer_encoder_layer_fwd, its other path in F.multi_head_attention_forward."""
    forbidden = ASSIGNMENT.forbidden
    assert {"_transformer_encoder_layer_fwd", "multi_head_attention_forward", "_native_multi_head_attention",
            "scaled_dot_product_attention"} <= set(forbidden)
    calls = []
    for owner, name in ((torch, "_transformer_encoder_layer_fwd"), (F, "multi_head_attention_forward")):
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k))
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    x = torch.randn(2, 3, 8)
    layer.eval()
    with torch.no_grad():
        layer(x)
    assert calls == ["_transformer_encoder_layer_fwd"]
    layer.train()
    layer(x)
    assert calls == ["_transformer_encoder_layer_fwd", "multi_head_attention_forward"]


@pytest.mark.parametrize("stack", [False, True], ids=["layer", "encoder"])
@pytest.mark.parametrize("train, grad", [(True, True), (False, False), (False, True)])
def test_builtin_encoder_layers_are_reported(stack, train, grad):
    source = BUILTIN_LAYER.replace("STACK", str(stack)).replace("TRAIN", str(train)).replace("GRAD", str(grad))
    namespace = module_from_source(source, "_builtin_layer", "<builtin layer>").__dict__
    request = {"op": "call", "target": "EncoderLayer", "init": dict(d_model=8, n_head=2, d_ff=16),
               "state_dict": None, "dtype": "float32", "method": "forward", "args": [torch.randn(2, 3, 8)],
               "kwargs": {}, "grad_outputs": None}
    response = execute.run(namespace, request, ASSIGNMENT.forbidden)
    assert response["ok"], response
    assert response["forbidden"], "nn.TransformerEncoderLayer went unnoticed"
    assert all("nn.TransformerEncoderLayer" in label for label in response["forbidden"]), response["forbidden"]
