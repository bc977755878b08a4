"""attention, functional style: F.linear, unflatten/flatten for heads, scores.masked_fill(mask == 0, finfo(dtype).min), F.softmax."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    d_k = Q.size(-1)
    scores = Q.matmul(K.mT).div(math.sqrt(d_k))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)
    attention = F.softmax(scores, dim=-1)
    return attention.matmul(V), attention


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
        def heads(x, lin):
            return F.linear(x, lin.weight, lin.bias).unflatten(-1, (self.n_head, self.d_head)).transpose(1, 2)

        out, attention = scaled_dot_product_attention(heads(Q, self.lin_Q), heads(K, self.lin_K),
                                                      heads(V, self.lin_V), mask)
        out = out.transpose(1, 2).flatten(start_dim=2)
        return F.linear(out, self.lin_O.weight, self.lin_O.bias), attention
