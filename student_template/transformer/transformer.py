"""Assignment ``transformer``: the sinusoidal positional encoding and a Transformer encoder layer.

Shapes use ``B`` for the batch size, ``n`` for the sequence length, ``d_model`` for the number of
features of every position, ``n_head`` for the number of attention heads and ``d_ff`` for the
hidden size of the feed-forward block.

The multi-head attention of the ``attention`` assignment is given below, complete and working:
your encoder layer uses it as ``self.self_attn``. Its masks are **True (or 1) = the query may
attend to that key, False (or 0) = blocked** -- the opposite of the bool ``src_mask`` of
``torch.nn.TransformerEncoderLayer``, where True means blocked.

Do not use ``torch.nn.TransformerEncoderLayer``, ``torch.nn.TransformerEncoder``,
``torch.nn.MultiheadAttention`` or ``torch.nn.functional.scaled_dot_product_attention``: the
graders detect them and give 0 points for the tests that use them. ``nn.LayerNorm``,
``nn.Linear`` and ``torch.relu`` are fine.
"""
import math

import torch
import torch.nn as nn


# Given, complete and working (the attention assignment's solution): use it, do not change it.
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
    d_k = Q.shape[-1]
    scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    attention = torch.softmax(scores, dim=-1)
    return attention @ V, attention


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
        B, n_Q, _ = Q.shape
        n_K = K.shape[1]
        q = self.lin_Q(Q).view(B, n_Q, self.n_head, self.d_head).transpose(1, 2)
        k = self.lin_K(K).view(B, n_K, self.n_head, self.d_head).transpose(1, 2)
        v = self.lin_V(V).view(B, n_K, self.n_head, self.d_head).transpose(1, 2)
        heads, attention = scaled_dot_product_attention(q, k, v, mask)
        merged = heads.transpose(1, 2).reshape(B, n_Q, self.d_feat)
        return self.lin_O(merged), attention


def positional_encoding(n_position: int, d_model: int) -> torch.Tensor:
    r"""The sinusoidal positional encoding of "Attention Is All You Need" (Vaswani et al., 2017).

    .. math::
        PE[pos, 2i]   = \sin(pos / 10000^{2i / d_{model}}) \\
        PE[pos, 2i+1] = \cos(pos / 10000^{2i / d_{model}})

    Positions count from 0. The features come in pairs ``(2i, 2i+1)`` that share one angle: the
    even feature is its sine, the odd one its cosine. When ``d_model`` is odd, the last feature
    (index ``d_model - 1``, even) is a sine without a cosine partner.

    Args:
        n_position: number of positions, ``pos = 0, 1, ..., n_position - 1``.
        d_model: number of features.

    Returns:
        ``[n_position, d_model]``, float32 (row ``pos`` is the encoding of position ``pos``).
    """
    # TODO: positions 0, 1, ..., n_position - 1 as a column [n_position, 1], and the even feature
    #       indices 2i = 0, 2, 4, ... (below d_model) as a row [1, ceil(d_model / 2)].
    # TODO: angle = pos / 10000^(2i / d_model), a [n_position, ceil(d_model / 2)] table.
    # TODO: fill a [n_position, d_model] float32 tensor: the even features (columns 0, 2, 4, ...)
    #       get sin(angle), the odd features (columns 1, 3, ...) get cos(angle) of the same pair
    #       (one column fewer when d_model is odd).
    raise NotImplementedError("TODO: implement positional_encoding")


class EncoderLayer(nn.Module):
    r"""One Transformer encoder layer, post-norm (as in the paper).

    .. math::
        h = \mathrm{LayerNorm}_1(x + \mathrm{SelfAttention}(x)) \\
        \mathrm{out} = \mathrm{LayerNorm}_2(h + W_2 \, \mathrm{relu}(W_1 h + b_1) + b_2)

    The same function as ``torch.nn.TransformerEncoderLayer(d_model, n_head, d_ff, dropout=0.0,
    batch_first=True, norm_first=False)`` when it holds the same weights (its ``in_proj_weight``
    stacks ``lin_Q``, ``lin_K``, ``lin_V``; ``linear1``/``linear2`` are ``ff1``/``ff2``).

    Args:
        d_model: number of input and output features of every position.
        n_head: number of attention heads; must divide ``d_model``.
        d_ff: hidden size of the position-wise feed-forward block.
        eps: the LayerNorms' epsilon.

    Attributes:
        self_attn: ``MultiHeadedAttention(d_model, n_head)`` (given above), returning
            ``(out, attention)``.
        norm1, norm2: ``nn.LayerNorm(d_model, eps)``, after the attention and the feed-forward
            sublayer respectively.
        ff1: ``nn.Linear(d_model, d_ff)``.
        ff2: ``nn.Linear(d_ff, d_model)``.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(d_model, n_head)
        self.norm1 = nn.LayerNorm(d_model, eps=eps)
        self.norm2 = nn.LayerNorm(d_model, eps=eps)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention, then the feed-forward block, each with a residual and a LayerNorm.

        Args:
            x: ``[B, n, d_model]``.
            mask: bool or 0/1, broadcastable to ``[B, n_head, n, n]``; True/1 = may attend
                (e.g. ``[n, n]`` causal or ``[B, 1, 1, n]`` padding). Every query may attend to
                at least one key.

        Returns:
            ``(out, attention)``: ``out`` is ``[B, n, d_model]``; ``attention`` is
            ``[B, n_head, n, n]``, the self-attention weights of every head.
        """
        # TODO: self-attention sublayer: queries, keys and values are all x (pass the mask on);
        #       add its output to x (residual), then apply norm1 to the sum (post-norm).
        # TODO: feed-forward sublayer on that result h: ff2(relu(ff1(h))); add it to h and apply
        #       norm2 to the sum.
        # TODO: return (out, attention), attention being the weights self_attn returned.
        raise NotImplementedError("TODO: implement EncoderLayer.forward")
