"""Assignment ``attention``: scaled dot-product attention and multi-head attention.

Shapes use ``B`` for the batch size, ``n_Q`` for the number of queries, ``n_K`` for the number of
keys (and values), ``d_k``/``d_v`` for feature sizes and ``...`` for any leading batch dimensions.

Masks follow ``torch.nn.functional.scaled_dot_product_attention``: **True (or 1) means the query
may attend to that key, False (or 0) means it is blocked.**

Do not use ``torch.nn.MultiheadAttention``, ``torch.nn.functional.multi_head_attention_forward`` or
``torch.nn.functional.scaled_dot_product_attention``: the graders detect them and give 0 points
for the tests that use them.
"""
import math

import torch
import torch.nn as nn


def scaled_dot_product_attention(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V.

    Args:
        Q: queries, ``[..., n_Q, d_k]``.
        K: keys, ``[..., n_K, d_k]``.
        V: values, ``[..., n_K, d_v]``.
        mask: bool or 0/1 tensor broadcastable to ``[..., n_Q, n_K]``; True/1 = may attend,
            False/0 = blocked. Every query row has at least one allowed key.

    Returns:
        ``(out, attention)``: ``out`` is ``[..., n_Q, d_v]``; ``attention`` is ``[..., n_Q, n_K]``
        and each of its rows sums to 1 over the keys.
    """
    # TODO: scores = Q K^T / sqrt(d_k), a [..., n_Q, n_K] tensor (d_k is the last dim of Q).
    # TODO: where the mask is False/0, set the score to -inf (or a very negative number) so the
    #       softmax gives that key zero weight. Do not modify the inputs in place.
    # TODO: attention = softmax over the keys (the last dimension); out = attention V.
    scores = torch.matmul(Q, K.transpose(-1, -2)) / (Q.size(-1) ** 0.5)
    if mask is not None:
        scores = scores.masked_fill(mask == 1, -1e9)
    attention = torch.softmax(scores, dim=-1)
    return torch.matmul(attention, V), attention


class MultiHeadedAttention(nn.Module):
    """Multi-head attention, the same function as ``torch.nn.MultiheadAttention(batch_first=True)``.

    Each of ``n_head`` heads attends with its own slice of ``d_head = d_feat // n_head`` features
    of the projected queries, keys and values: head ``h`` uses features
    ``h*d_head:(h+1)*d_head``. Scores are scaled by ``1/sqrt(d_head)``. The heads' outputs are
    concatenated back to ``d_feat`` features and projected by ``lin_O``.

    Args:
        d_feat: number of input and output features.
        n_head: number of heads; must divide ``d_feat``.
        bias: whether the four projections have a bias.

    Attributes:
        lin_Q, lin_K, lin_V, lin_O: ``nn.Linear(d_feat, d_feat)`` projections.
    """

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

    def forward(
        self, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from every query to the keys, in every head.

        Args:
            Q: ``[B, n_Q, d_feat]``.
            K: ``[B, n_K, d_feat]``.
            V: ``[B, n_K, d_feat]``.
            mask: bool or 0/1, broadcastable to ``[B, n_head, n_Q, n_K]``; True/1 = may attend.

        Returns:
            ``(out, attention)``: ``out`` is ``[B, n_Q, d_feat]``; ``attention`` is
            ``[B, n_head, n_Q, n_K]``, the attention weights of every head.
        """
        # TODO: project Q, K, V with lin_Q, lin_K, lin_V.
        # TODO: split the features into heads: [B, n, d_feat] -> [B, n, n_head, d_head], then
        #       transpose to [B, n_head, n, d_head] (a plain .view to [B, n_head, n, d_head]
        #       mixes up positions and heads).
        # TODO: attend per head with your scaled_dot_product_attention (it scales by the
        #       d_head it sees), merge the heads back ([B, n_head, n_Q, d_head] ->
        #       [B, n_Q, d_feat], transposing first), then project with lin_O.
        B = Q.size(0)
        def split(t):
            return t.view(B, -1, self.n_head, self.d_head).transpose(1, 2)
        q, k, v = split(self.lin_Q(Q)), split(self.lin_K(K)), split(self.lin_V(V))
        out, attention = scaled_dot_product_attention(q, k, v, mask)
        out = out.transpose(1, 2).contiguous().view(B, -1, self.d_feat)
        return self.lin_O(out), attention
