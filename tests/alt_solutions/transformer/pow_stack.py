"""transformer, hand-written style: positional_encoding with torch.pow, interleaved by stack/flatten; LayerNorm written out (mean, biased var), relu via clamp."""
import math

import torch
import torch.nn as nn


# GIVEN FROM attention: scaled_dot_product_attention, MultiHeadedAttention


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
