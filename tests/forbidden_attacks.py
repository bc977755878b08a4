"""Hostile submissions that reach a forbidden torch built-in by a side door.

Each is the assignment's reference with one target redefined at the end (so every other target
stays right), the redefinition computing with the built-in spelled the way the worker's first
detectors missed: ``torch.ops.aten.<op>.<overload>``, private ``torch._<op>_math``-style
variants, ``getattr`` with a computed name, aliased imports, and a plain use hidden by wrapping
the worker's ``dlgrade.exposed.protocol.send`` so that no answer carries ``"forbidden"``.
:func:`attacks` builds them; :func:`attacked_target` says which target each one rewrites.
"""
from __future__ import annotations

import textwrap

from dlgrade.authoring.registry import get_assignment

# the attention weights, computed by hand, and an additive mask every built-in variant accepts
_SDPA_HEAD = '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    attention = torch.softmax(scores, dim=-1)
    additive = None if mask is None else torch.zeros_like(scores).masked_fill(mask == 0, float("-inf"))
'''

SDPA_SIDE_DOORS = {
    "sdpa_aten_overload":
        "    out = torch.ops.aten.scaled_dot_product_attention.default(Q, K, V, attn_mask=additive)\n",
    "sdpa_private_math": "    out = torch._scaled_dot_product_attention_math(Q, K, V, attn_mask=additive)[0]\n",
    "sdpa_aten_flash_cpu":
        "    out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(Q, K, V, attn_mask=additive)[0]\n",
    "sdpa_getattr_concat":
        '    out = getattr(F, "sc" + "aled_dot_product_attention")(Q, K, V, attn_mask=additive)\n',
    "sdpa_aliased_import":
        "    from torch.nn.functional import scaled_dot_product_attention as fast_attention\n"
        "    out = fast_attention(Q, K, V, attn_mask=additive)\n",
}

# wraps the worker's send so that no answer says which forbidden functions it saw
SEND_PATCH = '''
import dlgrade.exposed.protocol as _protocol

_real_send = _protocol.send


def _quiet_send(sock, message):
    if isinstance(message, dict):
        message.pop("forbidden", None)
    return _real_send(sock, message)


_protocol.send = _quiet_send
'''

MHA_NATIVE = '''
def _native_forward(self, Q, K, V, mask=None):
    weight = torch.cat([self.lin_Q.weight, self.lin_K.weight, self.lin_V.weight])
    bias = None if self.lin_Q.bias is None else torch.cat([self.lin_Q.bias, self.lin_K.bias, self.lin_V.bias])
    if bias is None:
        bias = weight.new_zeros(3 * self.d_feat)
    out_bias = self.lin_O.bias if self.lin_O.bias is not None else weight.new_zeros(self.d_feat)
    blocked = None if mask is None else mask == 0
    return torch.ops.aten._native_multi_head_attention.default(
        Q, K, V, self.d_feat, self.n_head, weight, bias, self.lin_O.weight, out_bias, blocked, True, False)


MultiHeadedAttention.forward = _native_forward
'''

MHA_GETATTR_MODULE = '''
def _module_forward(self, Q, K, V, mask=None):
    builtin = getattr(nn, "Multihead" + "Attention")(self.d_feat, self.n_head, batch_first=True).to(Q.dtype)
    with torch.no_grad():
        builtin.in_proj_weight.copy_(torch.cat([self.lin_Q.weight, self.lin_K.weight, self.lin_V.weight]))
        builtin.in_proj_bias.copy_(torch.cat([self.lin_Q.bias, self.lin_K.bias, self.lin_V.bias]))
        builtin.out_proj.weight.copy_(self.lin_O.weight)
        builtin.out_proj.bias.copy_(self.lin_O.bias)
    blocked = None if mask is None else (mask == 0).expand(Q.shape[0], self.n_head, Q.shape[1], K.shape[1])
    blocked = None if blocked is None else blocked.reshape(-1, Q.shape[1], K.shape[1])
    return builtin(Q, K, V, attn_mask=blocked, need_weights=True, average_attn_weights=False)


MultiHeadedAttention.forward = _module_forward
'''

LSTM_CELL = '''
def _cell_forward(self, x, state=None):
    if state is None:
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        state = (zeros, zeros)
    return {call}(x, [state[0], state[1]], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


LSTMCell.forward = _cell_forward
'''

GRU_CELL = '''
def _gru_forward(self, x, h=None):
    if h is None:
        h = x.new_zeros(x.shape[0], self.hidden_size)
    return {call}(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


GRUCell.forward = _gru_forward
'''

LSTM_LAYER = '''
def _lstm_forward(self, x, state=None):
    if state is None:
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        state = (zeros, zeros)
    cell = self.cell
    params = [p for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh) if p is not None]
    out, h_n, c_n = torch.ops.aten.lstm.input(x, [state[0][None], state[1][None]], params, cell.bias_ih is not None,
                                              1, 0.0, False, False, True)
    return out, (h_n[0], c_n[0])


LSTM.forward = _lstm_forward
'''

LSTM_CELL_MODULE = '''
def _module_cell_forward(self, x, state=None):
    cell = nn.LSTMCell(self.input_size, self.hidden_size, bias=self.bias_ih is not None).to(x.dtype)
    cell.weight_ih, cell.weight_hh = self.weight_ih, self.weight_hh
    cell.bias_ih, cell.bias_hh = self.bias_ih, self.bias_hh
    return cell(x, state)


LSTMCell.forward = _module_cell_forward
'''

ENCODER_ATEN = '''
def _fused_forward(self, x, mask=None):
    attn = self.self_attn
    weight = torch.cat([attn.lin_Q.weight, attn.lin_K.weight, attn.lin_V.weight])
    bias = torch.cat([attn.lin_Q.bias, attn.lin_K.bias, attn.lin_V.bias])
    out = torch.ops.aten._transformer_encoder_layer_fwd.default(
        x, x.shape[-1], attn.n_head, weight, bias, attn.lin_O.weight, attn.lin_O.bias, False, False,
        self.norm1.eps, self.norm1.weight, self.norm1.bias, self.norm2.weight, self.norm2.bias,
        self.ff1.weight, self.ff1.bias, self.ff2.weight, self.ff2.bias, None if mask is None else mask == 0)
    return out, attn(x, x, x, mask)[1]


EncoderLayer.forward = _fused_forward
'''

ENCODER_MODULE = '''
def _builtin_forward(self, x, mask=None):
    from torch.nn import TransformerEncoderLayer as Builtin

    layer = Builtin(x.shape[-1], self.self_attn.n_head, self.ff1.out_features, dropout=0.0, batch_first=True)
    return layer.to(x.dtype)(x), self.self_attn(x, x, x, mask)[1]


EncoderLayer.forward = _builtin_forward
'''


# the plain built-in, which only the scan can see once the worker's answers are stripped
_PLAIN_SDPA = _SDPA_HEAD + "    out = F.scaled_dot_product_attention(Q, K, V, attn_mask=additive)\n    return out, attention\n"


def _given_sdpa(door: str) -> str:
    return _SDPA_HEAD + SDPA_SIDE_DOORS[door] + "    return out, attention\n"


def _recipes(name: str) -> dict[str, tuple[str, str]]:
    """``attack name -> (target, code appended to the reference)`` for assignment ``name``."""
    if name == "attention":
        recipes = {door: ("scaled_dot_product_attention", _given_sdpa(door)) for door in SDPA_SIDE_DOORS}
        recipes["mha_native_aten"] = ("MultiHeadedAttention", MHA_NATIVE)
        recipes["mha_getattr_module"] = ("MultiHeadedAttention", MHA_GETATTR_MODULE)
        recipes["send_patch"] = ("scaled_dot_product_attention", SEND_PATCH + _PLAIN_SDPA)
        return recipes
    if name == "rnn":
        return {
            "lstm_cell_aten_overload": ("LSTMCell", LSTM_CELL.format(call="torch.ops.aten.lstm_cell.default")),
            "lstm_cell_vf_alias": ("LSTMCell", "from torch import _VF as vf\n" + LSTM_CELL.format(call="vf.lstm_cell")),
            "gru_cell_getattr_concat": ("GRUCell", GRU_CELL.format(call='getattr(torch, "gru" + "_cell")')),
            "gru_cell_aten_packet": ("GRUCell", GRU_CELL.format(call="torch.ops.aten.gru_cell")),
            "lstm_aten_overload": ("LSTM", LSTM_LAYER),
            "send_patch": ("LSTMCell", SEND_PATCH + LSTM_CELL_MODULE),
        }
    if name == "transformer":
        # EncoderLayer uses the given MultiHeadedAttention, which uses the given attention function
        return {
            "encoder_layer_aten": ("EncoderLayer", ENCODER_ATEN),
            "encoder_layer_aliased_module": ("EncoderLayer", ENCODER_MODULE),
            "given_sdpa_private_math": ("EncoderLayer", _given_sdpa("sdpa_private_math")),
            "given_sdpa_getattr_concat": ("EncoderLayer", _given_sdpa("sdpa_getattr_concat")),
            "send_patch": ("EncoderLayer", SEND_PATCH + _PLAIN_SDPA),
        }
    return {}


PRELUDE = "\nimport math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def attacks(assignment_name: str) -> dict[str, str]:
    """``attack name -> complete submission source`` for ``assignment_name`` (none for an
    assignment that forbids nothing)."""
    reference = get_assignment(assignment_name).reference_source
    return {attack: reference + "\n\n# ---- side door ----" + PRELUDE + textwrap.dedent(code)
            for attack, (_, code) in _recipes(assignment_name).items()}


def attacked_target(assignment_name: str, attack: str) -> str:
    """The target ``attack`` rewrites (the one graders must find the forbidden built-in in)."""
    return _recipes(assignment_name)[attack][0]


# attacks whose module-level code changes the process it runs in: not for in-process tests
PATCHES_THE_PROCESS = frozenset({"send_patch"})
