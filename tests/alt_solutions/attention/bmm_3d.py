"""attention, 3-D batched style: leading dims flattened, torch.baddbmm with an additive torch.where(mask == 0, finfo(dtype).min, 0) mask, hand-written stable softmax."""
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
