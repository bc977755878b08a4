"""transformer, hand-written style: positional_encoding with torch.pow, interleaved by stack/flatten; LayerNorm written out (mean, biased var), relu via clamp."""
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


def positional_encoding(n_position, d_model):
    pos = torch.arange(n_position, dtype=torch.float64).unsqueeze(-1)        # [n, 1]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)                  # [ceil(d / 2)]
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), two_i / d_model)
    pairs = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)        # [n, ceil(d / 2), 2]
    return pairs.flatten(start_dim=1)[:, :d_model].float()                    # sin, cos, sin, ...


def _layer_norm(x, norm):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_head: int, d_ff: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(d_model, n_head)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def forward(self, x, mask=None):
        sub, attention = self.self_attn(x, x, x, mask)
        h = _layer_norm(x + sub, self.norm1)
        ff = self.ff2(torch.clamp(self.ff1(h), min=0.0))
        return _layer_norm(h + ff, self.norm2), attention
