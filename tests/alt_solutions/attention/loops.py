"""attention, loop style: Python loops over every leading index and over heads (weight rows sliced per head); scores.masked_fill_(~mask.bool(), -inf) in place."""
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
