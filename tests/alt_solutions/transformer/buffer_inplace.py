"""transformer, buffer style: positional_encoding fills a float32 buffer pair by pair (1 / 10000 ** (2i / d)); residuals added in place (add_) to the sublayers' own outputs (the attention is the handout's, given)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# GIVEN FROM attention: scaled_dot_product_attention, MultiHeadedAttention


def positional_encoding(n_position, d_model):
    positions = torch.arange(n_position, dtype=torch.float32)
    table = torch.empty(n_position, d_model, dtype=torch.float32)
    for two_i in range(0, d_model, 2):
        inv_freq = 1.0 / (10000 ** (two_i / d_model))
        table[:, two_i] = torch.sin(positions * inv_freq)
        if two_i + 1 < d_model:
            table[:, two_i + 1] = torch.cos(positions * inv_freq)
    return table


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_head: int, d_ff: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(d_model, n_head)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def forward(self, x, mask=None):
        residual, attention = self.self_attn(x, x, x, mask)   # a fresh tensor (lin_O's output)
        residual.add_(x)
        h = self.norm1(residual)
        out = self.ff2(F.relu(self.ff1(h)))
        out.add_(h)
        return self.norm2(out), attention
