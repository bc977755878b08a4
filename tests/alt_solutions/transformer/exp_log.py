"""transformer, functional style: the PyTorch-tutorial positional_encoding (div_term = exp(-log(10000) * 2i / d), float32); F.layer_norm, F.linear, F.relu."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# GIVEN FROM attention: scaled_dot_product_attention, MultiHeadedAttention


def positional_encoding(n_position, d_model):
    position = torch.arange(n_position, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(n_position, d_model, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
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
        d_model = x.shape[-1]
        attended, attention = self.self_attn(x, x, x, mask)
        h = F.layer_norm(x + attended, (d_model,), self.norm1.weight, self.norm1.bias, self.norm1.eps)
        ff = F.linear(F.relu(F.linear(h, self.ff1.weight, self.ff1.bias)), self.ff2.weight, self.ff2.bias)
        out = F.layer_norm(h + ff, (d_model,), self.norm2.weight, self.norm2.bias, self.norm2.eps)
        return out, attention
