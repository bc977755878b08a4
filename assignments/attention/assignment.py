"""Assignment ``attention``: what students see about it and what they may not use."""
from dlgrade.authoring.registry import Question

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
