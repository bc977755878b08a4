"""transformer, einsum style: positional_encoding as torch.where(even column, sin, cos) over a full angle table; an einsum feed-forward, in-place relu_ on its own hidden tensor (the attention is the handout's, given)."""
import math

import torch
import torch.nn as nn


# GIVEN FROM attention: scaled_dot_product_attention, MultiHeadedAttention


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
