"""attention, chunk style: heads split with .chunk and torch.stack, merged with torch.cat(unbind); an additive -1e9 float mask."""
import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) * (1.0 / math.sqrt(K.size(-1)))
    if mask is not None:
        scores = scores + (1.0 - mask.to(scores.dtype)) * -1e9
    attention = nn.functional.softmax(scores, dim=-1)
    return torch.matmul(attention, V), attention


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

    def split(self, x):
        """[B, n, d_feat] -> [B, n_head, n, d_head]: chunk the features, stack the chunks."""
        return torch.stack(x.chunk(self.n_head, dim=-1), dim=1)

    def forward(self, Q, K, V, mask=None):
        q, k, v = self.split(self.lin_Q(Q)), self.split(self.lin_K(K)), self.split(self.lin_V(V))
        heads, attention = scaled_dot_product_attention(q, k, v, mask)
        merged = torch.cat(heads.unbind(dim=1), dim=-1)
        return self.lin_O(merged), attention
