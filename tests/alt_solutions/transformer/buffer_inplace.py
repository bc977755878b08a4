"""transformer, buffer style: positional_encoding fills a float32 buffer pair by pair (1 / 10000 ** (2i / d)); residuals added in place (add_) to the sublayers' own outputs; 3-D bmm attention."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    *lead, n_Q, d_k = Q.shape
    n_K, d_v = K.shape[-2], V.shape[-1]
    q = Q.reshape(-1, n_Q, d_k)
    k = K.reshape(-1, n_K, d_k)
    v = V.reshape(-1, n_K, d_v)
    scale = 1.0 / math.sqrt(d_k)
    if mask is None:
        scores = torch.bmm(q, k.transpose(1, 2)) * scale
    else:
        blocked = torch.broadcast_to(mask == 0, (*lead, n_Q, n_K)).reshape(-1, n_Q, n_K)
        additive = torch.where(blocked, Q.new_full((), torch.finfo(Q.dtype).min), Q.new_zeros(()))
        scores = torch.baddbmm(additive, q, k.transpose(1, 2), beta=1.0, alpha=scale)
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    attention = e / e.sum(dim=-1, keepdim=True)
    out = torch.bmm(attention, v)
    return out.reshape(*lead, n_Q, d_v), attention.reshape(*lead, n_Q, n_K)


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

    def _heads(self, x, linear):
        """[B, n, d_feat] -> [B * n_head, n, d_head]."""
        B, n, _ = x.shape
        y = F.linear(x, linear.weight, linear.bias)
        return y.view(B, n, self.n_head, self.d_head).permute(0, 2, 1, 3).reshape(B * self.n_head, n, self.d_head)

    def forward(self, Q, K, V, mask=None):
        B, n_Q, _ = Q.shape
        n_K = K.shape[1]
        q, k, v = self._heads(Q, self.lin_Q), self._heads(K, self.lin_K), self._heads(V, self.lin_V)
        if mask is not None:
            mask = torch.broadcast_to(mask, (B, self.n_head, n_Q, n_K)).reshape(B * self.n_head, n_Q, n_K)
        out, attention = scaled_dot_product_attention(q, k, v, mask)
        out = out.view(B, self.n_head, n_Q, self.d_head).permute(0, 2, 1, 3).reshape(B, n_Q, self.d_feat)
        out = F.linear(out, self.lin_O.weight, self.lin_O.bias)
        return out, attention.view(B, self.n_head, n_Q, n_K)


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
