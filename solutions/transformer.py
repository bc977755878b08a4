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
# GIVEN FROM attention: scaled_dot_product_attention, MultiHeadedAttention


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
    # BEGIN SOLUTION
    position = torch.arange(n_position, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)[None, :]
    angle = position / 10000.0 ** (two_i / d_model)
    pe = torch.zeros(n_position, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(torch.float32)
    # END SOLUTION


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
        # BEGIN SOLUTION
        attended, attention = self.self_attn(x, x, x, mask)
        x = self.norm1(x + attended)
        hidden = torch.relu(self.ff1(x))
        out = self.norm2(x + self.ff2(hidden))
        return out, attention
        # END SOLUTION
