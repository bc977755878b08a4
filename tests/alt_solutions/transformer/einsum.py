"""transformer, einsum style: positional_encoding as torch.where(even column, sin, cos) over a full angle table; einsum attention and feed-forward, in-place relu_ on its own hidden tensor."""
import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", Q, K) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = torch.where(mask.bool(), scores, float("-inf"))
    attention = scores.softmax(dim=-1)
    out = torch.einsum("...qk,...kv->...qv", attention, V)
    return out, attention


def _project(x, linear):
    y = torch.einsum("bnd,ed->bne", x, linear.weight)
    return y if linear.bias is None else y + linear.bias


class MultiHeadedAttention(nn.Module):
    def __init__(self, d_feat: int, n_head: int, bias: bool = True) -> None:
        super().__init__()
        if d_feat % n_head != 0:
            raise ValueError(f"d_feat ({d_feat}) must be divisible by n_head ({n_head})")
        self.d_feat = d_feat
        self.n_head = n_head
        self.d_head = d_feat // n_head
        self.lin_Q = nn.Linear(d_feat, d_feat, bias=bias)
        self.lin_K = nn.Linear(d_feat, d_feat, bias=bias)
        self.lin_V = nn.Linear(d_feat, d_feat, bias=bias)
        self.lin_O = nn.Linear(d_feat, d_feat, bias=bias)

    def forward(self, Q, K, V, mask=None):
        B = Q.shape[0]
        h, d = self.n_head, self.d_head
        q = _project(Q, self.lin_Q).reshape(B, -1, h, d)  # [B, n_Q, h, d]
        k = _project(K, self.lin_K).reshape(B, -1, h, d)
        v = _project(V, self.lin_V).reshape(B, -1, h, d)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * d ** -0.5
        if mask is not None:
            scores = torch.where(mask.bool(), scores, float("-inf"))
        attention = torch.softmax(scores, dim=-1)
        heads = torch.einsum("bhqk,bkhd->bqhd", attention, v).reshape(B, -1, self.d_feat)
        return _project(heads, self.lin_O), attention


def positional_encoding(n_position: int, d_model: int) -> torch.Tensor:
    pos = torch.arange(n_position, dtype=torch.float64)
    col = torch.arange(d_model)
    pair_start = (col // 2 * 2).to(torch.float64)           # 2i for columns 2i and 2i + 1
    angle = torch.outer(pos, 10000.0 ** (-pair_start / d_model))
    pe = torch.where(col % 2 == 0, torch.sin(angle), torch.cos(angle))
    return pe.to(torch.float32)


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_head: int, d_ff: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(d_model, n_head)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def forward(self, x, mask=None):
        attended, attention = self.self_attn(x, x, x, mask)
        h = self.norm1(attended + x)
        hidden = torch.einsum("bnd,fd->bnf", h, self.ff1.weight) + self.ff1.bias
        hidden.relu_()  # our own tensor: safe to update in place
        ff = torch.einsum("bnf,df->bnd", hidden, self.ff2.weight) + self.ff2.bias
        return self.norm2(ff + h), attention
