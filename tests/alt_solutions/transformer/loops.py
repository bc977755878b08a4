"""transformer, loop style: positional_encoding filled entry by entry with math.sin/math.cos; attention loops over heads; the layer calls its modules."""
import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(Q, K, V, mask=None):
    lead = Q.shape[:-2]
    n_Q, n_K = Q.shape[-2], K.shape[-2]
    Qs = Q.reshape(-1, n_Q, Q.shape[-1])
    Ks = K.reshape(-1, n_K, K.shape[-1])
    Vs = V.reshape(-1, n_K, V.shape[-1])
    if mask is not None:
        mask = mask.expand(*lead, n_Q, n_K).reshape(-1, n_Q, n_K)
    outs, attns = [], []
    for idx in range(Qs.shape[0]):
        scores = torch.matmul(Qs[idx], Ks[idx].T) / math.sqrt(Q.shape[-1])  # [n_Q, n_K], our own tensor
        if mask is not None:
            scores.masked_fill_(~mask[idx].bool(), float("-inf"))
        weights = torch.softmax(scores, dim=1)
        attns.append(weights)
        outs.append(torch.matmul(weights, Vs[idx]))
    out = torch.stack(outs).reshape(*lead, n_Q, V.shape[-1])
    attention = torch.stack(attns).reshape(*lead, n_Q, n_K)
    return out, attention


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

    @staticmethod
    def _head_projection(x, linear, rows):
        y = x @ linear.weight[rows].T
        if linear.bias is not None:
            y = y + linear.bias[rows]
        return y

    def forward(self, Q, K, V, mask=None):
        B, n_Q, _ = Q.shape
        n_K = K.shape[1]
        if mask is not None:
            mask = mask.expand(B, self.n_head, n_Q, n_K)
        head_outs, head_attns = [], []
        for head in range(self.n_head):
            rows = slice(head * self.d_head, (head + 1) * self.d_head)
            q = self._head_projection(Q, self.lin_Q, rows)
            k = self._head_projection(K, self.lin_K, rows)
            v = self._head_projection(V, self.lin_V, rows)
            out, attn = scaled_dot_product_attention(q, k, v, None if mask is None else mask[:, head])
            head_outs.append(out)
            head_attns.append(attn)
        concat = torch.cat(head_outs, dim=-1)  # head h holds features h*d_head:(h+1)*d_head
        return self.lin_O(concat), torch.stack(head_attns, dim=1)


def positional_encoding(n_position, d_model):
    pe = torch.zeros(n_position, d_model, dtype=torch.float32)
    for pos in range(n_position):
        for i in range(0, d_model, 2):
            angle = pos / (10000 ** (i / d_model))
            pe[pos, i] = math.sin(angle)
            if i + 1 < d_model:
                pe[pos, i + 1] = math.cos(angle)
    return pe


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_head: int, d_ff: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(d_model, n_head)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def forward(self, x, mask=None):
        attn_out, attn_weights = self.self_attn(x, x, x, mask=mask)
        x = self.norm1(x + attn_out)
        ff_out = self.ff2(torch.relu(self.ff1(x)))
        x = self.norm2(x + ff_out)
        return x, attn_weights
