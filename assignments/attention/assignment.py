"""Assignment ``attention``: what students see about it and what they may not use."""
import torch

from dlgrade.authoring.registry import Question
from dlgrade.grading.factors import (Batch, Call, Classified, DType, EqualSizes, Flag, Leading, MaskKind, MaskShape,
                                     Signature, SizeOne)

TITLE = "Attention: scaled dot-product and multi-head attention"

INTRO = """\
In this assignment you implement **scaled dot-product attention** and **multi-head attention**
using only tensor operations. Your `MultiHeadedAttention` computes the same function as
`torch.nn.MultiheadAttention(batch_first=True)` when the projections hold the same weights.

Masks follow `torch.nn.functional.scaled_dot_product_attention`: **True (or 1) means the query may
attend to that key; False (or 0) means it is blocked.**

Fill in every body that raises `NotImplementedError`; leave the given `__init__` as it is. After
each part, run its check cell: it tells you which checks pass and, when one fails, what was
called, what was expected and what came back.

Do not use `nn.MultiheadAttention`, `F.multi_head_attention_forward` or
`F.scaled_dot_product_attention`: the graders detect them and give 0 points for the tests that
use them.
"""

QUESTIONS = [
    Question("scaled_dot_product_attention", "1. Scaled dot-product attention",
             "Implement `scaled_dot_product_attention(Q, K, V, mask=None)`: scores `Q K^T / sqrt(d_k)`, "
             "masked where the mask is False/0, softmax over the keys, then the weighted sum of `V`. "
             "It must work for any number of leading batch dimensions."),
    Question("MultiHeadedAttention", "2. Multi-head attention",
             "Implement `MultiHeadedAttention.forward`: project, split into `n_head` heads of "
             "`d_head = d_feat // n_head` features, attend in every head (scaled by `1/sqrt(d_head)`), "
             "merge the heads and project with `lin_O`."),
]

FORBIDDEN = {
    "scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention",
    "multi_head_attention_forward": "torch.nn.functional.multi_head_attention_forward (nn.MultiheadAttention)",
    "_native_multi_head_attention": "torch._native_multi_head_attention (nn.MultiheadAttention)",
}


def _sdpa_scores(call: Call) -> tuple[int, ...]:
    Q, K = call.get("Q"), call.get("K")
    return (*torch.broadcast_shapes(Q.shape[:-2], K.shape[:-2]), Q.shape[-2], K.shape[-2])


def _mha_scores(call: Call) -> tuple[int, ...]:
    return (call.get("Q").shape[0], call.init["n_head"], call.get("Q").shape[-2], call.get("K").shape[-2])


_KEYS = {"K": -2, "V": -2, "mask": -1}

# the input forms each docstring allows (dlgrade.grading.factors): graders exercise every one,
# and a failing check is re-asked with one of them changed at a time to say what it depends on
FORMS = [
    Signature("scaled_dot_product_attention", (
        DType(), MaskKind(), MaskShape(forms=("[n_K]", "[n_Q,n_K]", "[…,1,n_K]", "[…,n_Q,n_K]", "[…,1,n_Q,n_K]")),
        Leading(), Batch(), EqualSizes("n_Q_n_K", a={"Q": -2, "mask": -2}, b=_KEYS),
        EqualSizes("d_k_d_v", a={"Q": -1, "K": -1}, b={"V": -1}), SizeOne("n_Q", dims={"Q": -2, "mask": -2}),
        Classified("d_k_parity", ("odd", "even"), lambda c: ("even", "odd")[c.get("Q").shape[-1] % 2])),
        core={"Q": 2, "K": 2, "V": 2, "mask": 2}, any_leading=True, scores=_sdpa_scores,
        score_names=("n_Q", "n_K")),
    Signature("MultiHeadedAttention", (
        DType(), Flag("bias"), MaskKind(),
        MaskShape(forms=("[n_Q,n_K]", "[B,1,1,n_K]", "[B,1,n_Q,n_K]", "[B,n_head,n_Q,n_K]", "[1,n_head,n_Q,n_K]")),
        Batch(), EqualSizes("n_Q_n_K", a={"Q": -2, "mask": -2}, b=_KEYS),
        Classified("n_head", ("1", ">1"), lambda c: "1" if c.init["n_head"] == 1 else ">1")),
        core={"Q": 2, "K": 2, "V": 2, "mask": 3}, scores=_mha_scores, score_names=("B", "n_head", "n_Q", "n_K")),
]
