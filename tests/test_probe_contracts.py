"""Every grader's probes are valid inputs under the documented API, and the reference's answer to
each is PyTorch's own (``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``,
``nn.LSTMCell``/``GRUCell``/``LSTM``, ``nn.TransformerEncoderLayer``, ``MixtureSameFamily``; the
documented formula where no built-in exists).

The graders of each assignment are recorded once, hidden ones included (the record mode of
:mod:`dlgrade.grading.plugin`), and every call they make is checked against the contract its
target's docstring states (shapes, broadcastable masks with an allowed key in every row, dtypes)
and against the built-in that computes the same function, weights copied: a probe that breaks
either fails here, naming its grader. Every assignment in the registry must have its checks here. (A probe outside the contract is a grader bug: the
reference may answer it, but a correct implementation written another way need not.)
"""
from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.grading.oracle import ReferenceOracle

pytestmark = pytest.mark.slow

DTYPES = {"float32": torch.float32, "float64": torch.float64}
TOLERANCE = {torch.float32: dict(atol=1e-5, rtol=1e-4), torch.float64: dict(atol=1e-10, rtol=1e-8)}


def named_args(request: dict) -> dict:
    """The call's arguments by the names the probe gives them (positional ones first)."""
    names = request.get("labels", {}).get("args") or []
    return {**dict(zip(names, request.get("args") or [])), **(request.get("kwargs") or {})}


def reference_module(name: str, request: dict) -> nn.Module:
    """The reference's module as the call builds it (:func:`dlgrade.exposed.execute.build`: seed 0,
    the probe's dtype, its parameters when it sets them): the parameters PyTorch's module gets."""
    namespace = ReferenceOracle(get_assignment(name)).namespace
    torch.default_generator.manual_seed(0)
    module = namespace[request["target"]](**request["init"]).to(DTYPES[request.get("dtype", "float32")])
    if request.get("state_dict") is not None:
        module.load_state_dict(request["state_dict"], strict=False)
    return module


def check_mask(mask: torch.Tensor | None, scores_shape: tuple[int, ...], where: str) -> torch.Tensor | None:
    """A documented mask: bool or 0/1, broadcastable to ``scores_shape`` without enlarging it,
    at least one allowed key in every row; returned as bool, expanded."""
    if mask is None:
        return None
    assert mask.dtype == torch.bool or (not mask.is_floating_point() and set(mask.unique().tolist()) <= {0, 1}), \
        f"{where}: a mask must be bool or 0/1, not {mask.dtype} {mask.unique().tolist()}"
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    assert shape == torch.Size(scores_shape), \
        f"{where}: a mask of shape {list(mask.shape)} is not broadcastable to the scores' {list(scores_shape)}"
    allowed = mask.bool().expand(scores_shape)
    assert allowed.any(-1).all(), f"{where}: a query row has no allowed key"
    return allowed


def assert_close(got: torch.Tensor, want: torch.Tensor, where: str) -> None:
    assert got.shape == want.shape, f"{where}: the reference's shape {list(got.shape)}, PyTorch's {list(want.shape)}"
    torch.testing.assert_close(got, want, **TOLERANCE[want.dtype], msg=lambda m: f"{where}: {m}")


# -- attention ------------------------------------------------------------------------------------------
def check_sdpa(name: str, request: dict, expected: dict, where: str) -> None:
    a = named_args(request)
    Q, K, V = a["Q"], a["K"], a["V"]
    lead, n_Q, d_k, n_K, d_v = Q.shape[:-2], Q.shape[-2], Q.shape[-1], K.shape[-2], V.shape[-1]
    assert K.shape == (*lead, n_K, d_k) and V.shape == (*lead, n_K, d_v), \
        f"{where}: Q {list(Q.shape)}, K {list(K.shape)}, V {list(V.shape)} do not share their leading dimensions"
    assert Q.dtype == K.dtype == V.dtype and Q.is_floating_point(), where
    mask = check_mask(a.get("mask"), (*lead, n_Q, n_K), where)
    out, attention = expected["out"]
    assert out.shape == (*lead, n_Q, d_v) and attention.shape == (*lead, n_Q, n_K), where
    assert_close(out, F.scaled_dot_product_attention(Q, K, V, attn_mask=mask), where)
    scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)  # the documented formula: no built-in returns the weights
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    assert_close(attention, torch.softmax(scores, -1), where)


def check_mha(name: str, request: dict, expected: dict, where: str) -> None:
    a = named_args(request)
    Q, K, V = a["Q"], a["K"], a["V"]
    init = request["init"]
    d_feat, n_head = init["d_feat"], init["n_head"]
    (B, n_Q, _), n_K = Q.shape, K.shape[1]
    assert d_feat % n_head == 0 and Q.shape[-1] == K.shape[-1] == V.shape[-1] == d_feat, where
    assert K.shape == V.shape == (B, n_K, d_feat), where
    mask = check_mask(a.get("mask"), (B, n_head, n_Q, n_K), where)
    mine = reference_module(name, request)
    torch_mha = nn.MultiheadAttention(d_feat, n_head, bias=init.get("bias", True), batch_first=True).to(Q.dtype)
    with torch.no_grad():
        torch_mha.in_proj_weight.copy_(torch.cat([mine.lin_Q.weight, mine.lin_K.weight, mine.lin_V.weight]))
        torch_mha.out_proj.weight.copy_(mine.lin_O.weight)
        if init.get("bias", True):
            torch_mha.in_proj_bias.copy_(torch.cat([mine.lin_Q.bias, mine.lin_K.bias, mine.lin_V.bias]))
            torch_mha.out_proj.bias.copy_(mine.lin_O.bias)
    blocked = None if mask is None else ~mask.reshape(B * n_head, n_Q, n_K)  # nn.MultiheadAttention: True = blocked
    with torch.no_grad():
        want_out, want_attention = torch_mha(Q, K, V, attn_mask=blocked, need_weights=True,
                                             average_attn_weights=False)
    out, attention = expected["out"]
    assert out.shape == (B, n_Q, d_feat) and attention.shape == (B, n_head, n_Q, n_K), where
    assert_close(out, want_out, where)
    assert_close(attention, want_attention, where)


# -- rnn ----------------------------------------------------------------------------------------------
def _cell_like(request: dict, name: str, kind: type[nn.Module], mine: nn.Module) -> nn.Module:
    init = request["init"]
    cell = kind(init["input_size"], init["hidden_size"], bias=init.get("bias", True)).to(DTYPES[request["dtype"]])
    cell.load_state_dict(mine.state_dict())
    return cell


def check_cell(kind: type[nn.Module]) -> Callable[[str, dict, dict, str], None]:
    def check(name: str, request: dict, expected: dict, where: str) -> None:
        a = named_args(request)
        x = a["x"]
        init = request["init"]
        B, H = x.shape[0], init["hidden_size"]
        assert x.shape == (B, init["input_size"]) and x.dtype == DTYPES[request["dtype"]], where
        state = a.get("state", a.get("h"))
        for s in (state if isinstance(state, tuple) else (state,) if state is not None else ()):
            assert s.shape == (B, H) and s.dtype == x.dtype, f"{where}: a state of shape {list(s.shape)}"
        cell = _cell_like(request, name, kind, reference_module(name, request))
        with torch.no_grad():
            want = cell(x, state)
        got = expected["out"]
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,),
                        strict=True):
            assert_close(g, w, where)
    return check


def check_lstm(name: str, request: dict, expected: dict, where: str) -> None:
    a = named_args(request)
    x, state = a["x"], a.get("state")
    init = request["init"]
    B, T, H = x.shape[0], x.shape[1], init["hidden_size"]
    assert x.shape == (B, T, init["input_size"]) and T >= 1, where
    mine = reference_module(name, request)
    lstm = nn.LSTM(init["input_size"], H, bias=init.get("bias", True), batch_first=True).to(x.dtype)
    lstm.load_state_dict({f"{k}_l0": v for k, v in mine.cell.state_dict().items()})
    with torch.no_grad():
        want_out, (h_n, c_n) = lstm(x, None if state is None else (state[0][None], state[1][None]))
    outputs, (h, c) = expected["out"]
    assert_close(outputs, want_out, where)
    assert_close(h, h_n[0], where)
    assert_close(c, c_n[0], where)


# -- transformer ----------------------------------------------------------------------------------------
def check_encoder_layer(name: str, request: dict, expected: dict, where: str) -> None:
    a = named_args(request)
    x = a["x"]
    init = request["init"]
    d_model, n_head, d_ff, eps = init["d_model"], init["n_head"], init["d_ff"], init.get("eps", 1e-5)
    B, n, _ = x.shape
    assert x.shape == (B, n, d_model) and d_model % n_head == 0 and x.dtype == DTYPES[request["dtype"]], where
    mask = check_mask(a.get("mask"), (B, n_head, n, n), where)
    mine = reference_module(name, request)
    layer = nn.TransformerEncoderLayer(d_model, n_head, d_ff, dropout=0.0, batch_first=True, norm_first=False,
                                       layer_norm_eps=eps).to(x.dtype).eval()
    attn = mine.self_attn
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([attn.lin_Q.weight, attn.lin_K.weight, attn.lin_V.weight]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([attn.lin_Q.bias, attn.lin_K.bias, attn.lin_V.bias]))
        layer.self_attn.out_proj.weight.copy_(attn.lin_O.weight)
        layer.self_attn.out_proj.bias.copy_(attn.lin_O.bias)
        for ours, theirs in ((mine.ff1, layer.linear1), (mine.ff2, layer.linear2), (mine.norm1, layer.norm1),
                             (mine.norm2, layer.norm2)):
            theirs.load_state_dict(ours.state_dict())
        blocked = None if mask is None else ~mask.reshape(B * n_head, n, n)
        want_out = layer(x, src_mask=blocked)
        want_attention = layer.self_attn(x, x, x, attn_mask=blocked, need_weights=True, average_attn_weights=False)[1]
    out, attention = expected["out"]
    assert out.shape == (B, n, d_model) and attention.shape == (B, n_head, n, n), where
    assert_close(out, want_out, where)
    assert_close(attention, want_attention, where)


def check_positional_encoding(name: str, request: dict, expected: dict, where: str) -> None:
    a = named_args(request)
    n_position, d_model = a["n_position"], a["d_model"]
    assert type(n_position) is int and type(d_model) is int and n_position >= 1 and d_model >= 1, where
    position = torch.arange(n_position, dtype=torch.float64)[:, None]  # the documented formula
    angle = position / 10000 ** (torch.arange(d_model, dtype=torch.float64)[None, :] // 2 * 2 / d_model)
    want = torch.where(torch.arange(d_model) % 2 == 0, torch.sin(angle), torch.cos(angle)).float()
    got = expected["out"]
    assert got.dtype == torch.float32 and got.shape == (n_position, d_model), where
    assert_close(got, want, where)


# -- mdn ----------------------------------------------------------------------------------------------
def check_mdn(name: str, request: dict, expected: dict, where: str) -> None:
    x = named_args(request)["x"]
    init = request["init"]
    B, K = x.shape[0], init["n_gaussians"]
    assert x.shape == (B, init["in_features"]) and x.dtype == DTYPES[request["dtype"]], where
    mine = reference_module(name, request)
    with torch.no_grad():  # the documented formula, with the module's own layers
        h = torch.tanh(mine.z_h[0](x))
        want = (torch.softmax(mine.z_pi(h), -1), torch.exp(mine.z_sigma(h)), mine.z_mu(h))
    for got, w in zip(expected["out"], want, strict=True):
        assert got.shape == (B, K), where
        assert_close(got, w, where)


def check_mdn_loss(name: str, request: dict, expected: dict, where: str) -> None:
    a = named_args(request)
    pi, sigma, mu, y = a["pi"], a["sigma"], a["mu"], a["y"]
    B, K = pi.shape
    assert sigma.shape == mu.shape == (B, K) and y.shape == (B, 1), where
    assert (pi > 0).all() and torch.allclose(pi.sum(-1), torch.ones(B, dtype=pi.dtype)), f"{where}: pi off the simplex"
    assert (sigma > 0).all(), f"{where}: a sigma is not positive"
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    mixture = MixtureSameFamily(Categorical(probs=pi), Normal(mu, sigma))
    got = expected["out"]
    assert got.shape == (), where
    assert_close(got, -mixture.log_prob(y[:, 0]).mean(), where)


CHECKERS: dict[str, dict[str, Callable[[str, dict, dict, str], None]]] = {
    "transformer": {"EncoderLayer": check_encoder_layer, "positional_encoding": check_positional_encoding},
    "mdn": {"MDN": check_mdn, "mdn_loss": check_mdn_loss},
    "attention": {"scaled_dot_product_attention": check_sdpa, "MultiHeadedAttention": check_mha},
    "rnn": {"LSTMCell": check_cell(nn.LSTMCell), "GRUCell": check_cell(nn.GRUCell), "LSTM": check_lstm},
}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_probe_is_valid_and_the_reference_agrees_with_pytorch(grader_calls, name):
    assert name in CHECKERS, f"{name}: no contract checks for its targets"
    made = grader_calls(name)
    assert made, f"{name}: the graders make no call"
    unchecked = sorted({r["target"] for _, _, r, _ in made} - set(CHECKERS[name]))
    assert not unchecked, f"{name}: no contract check for {unchecked}"
    for index, (nodeid, _, request, expected) in enumerate(made):
        where = f"{nodeid} (call {index}: {request['target']})"
        assert expected.get("ok"), f"{where}: the reference failed: {expected.get('error')}"
        CHECKERS[name][request["target"]](name, request, expected, where)


def test_a_mask_that_enlarges_the_scores_is_refused():
    """The grader bug this file was written for: a ``[3, 1, 5]`` mask against ``[3, 1, 2, 5]``
    scores broadcasts to ``[3, 3, 2, 5]`` (the reference answers it, in-place masking does not)."""
    mask = torch.ones(3, 1, 5, dtype=torch.bool)
    with pytest.raises(AssertionError, match="not broadcastable"):
        check_mask(mask, (3, 1, 2, 5), "probe")
    assert check_mask(mask[:, :, None], (3, 1, 2, 5), "probe").shape == (3, 1, 2, 5)
