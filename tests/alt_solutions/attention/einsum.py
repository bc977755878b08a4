"""attention, einsum style: torch.einsum for scores, projections and heads (no transposes); masks via torch.where(mask.bool(), scores, -inf)."""
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
