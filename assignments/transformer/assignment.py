"""Assignment ``transformer``: what students see about it and what they may not use."""
import torch

from dlgrade.authoring.registry import Question
from dlgrade.grading.factors import Batch, Call, Classified, DType, MaskKind, MaskShape, Parity, Setting, Signature

TITLE = "Transformer: positional encoding and an encoder layer"

INTRO = """\
In this assignment you build the two pieces a Transformer encoder adds around attention: the
**sinusoidal positional encoding** and one **encoder layer** (self-attention and a position-wise
feed-forward block, each with a residual connection and a LayerNorm). Your `EncoderLayer`
computes the same function as `torch.nn.TransformerEncoderLayer(d_model, n_head, d_ff,
dropout=0.0, batch_first=True, norm_first=False)` when it holds the same weights.

The multi-head attention of the attention assignment, `MultiHeadedAttention`, is given in the
first code cell, complete: run that cell and use it as it is. Its masks are **True (or 1) = may
attend, False (or 0) = blocked**, the opposite of `nn.TransformerEncoderLayer`'s bool `src_mask`.

Fill in every body that raises `NotImplementedError`; leave the given `__init__` as it is. After
each part, run its check cell: it tells you which checks pass and, when one fails, what was
called, what was expected and what came back.

Do not use `nn.TransformerEncoderLayer`, `nn.TransformerEncoder`, `nn.MultiheadAttention` or
`F.scaled_dot_product_attention`: the graders detect them and give 0 points for the tests that
use them. `nn.LayerNorm`, `nn.Linear` and `torch.relu` are fine.
"""

QUESTIONS = [
    Question("positional_encoding", "1. Sinusoidal positional encoding",
             "Implement `positional_encoding(n_position, d_model)`: a float32 `[n_position, d_model]` "
             "table whose row `pos` holds `sin(pos / 10000^(2i/d_model))` in feature `2i` and "
             "`cos(pos / 10000^(2i/d_model))` in feature `2i+1`, positions counted from 0. "
             "When `d_model` is odd, the last feature is a sine without a cosine partner."),
    Question("EncoderLayer", "2. Encoder layer",
             "Implement `EncoderLayer.forward(x, mask=None)`, post-norm: "
             "`h = norm1(x + self_attn(x, x, x, mask)[0])`, then `out = norm2(h + ff2(relu(ff1(h))))`. "
             "Return `(out, attention)`, where `attention` is the `[B, n_head, n, n]` self-attention weights."),
]

FORBIDDEN = {
    "_transformer_encoder_layer_fwd": "torch._transformer_encoder_layer_fwd (nn.TransformerEncoderLayer)",
    "multi_head_attention_forward":
        "torch.nn.functional.multi_head_attention_forward (nn.TransformerEncoderLayer, nn.MultiheadAttention)",
    "_native_multi_head_attention": "torch._native_multi_head_attention (nn.MultiheadAttention, nn.TransformerEncoderLayer)",
    "scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention",
}


def _scores(call: Call) -> tuple[int, ...]:
    x = call.get("x")
    return (x.shape[0], call.init["n_head"], x.shape[-2], x.shape[-2])


def _init_form(key: str, one: bool = False):
    def classify(call: Call) -> str:
        value = call.init[key] if call.init else call.get(key)
        return ("1" if value == 1 else ">1") if one else ("odd" if value % 2 else "even")
    return classify


# the input forms each docstring allows (dlgrade.grading.factors): graders exercise every one,
# and a failing check is re-asked with one of them changed at a time to say what it depends on
FORMS = [
    Signature("positional_encoding", (
        Parity(arg="d_model"), Classified("n_position", ("1", ">1"), _init_form("n_position", one=True)),
        Classified("d_model_one", ("1", ">1"), _init_form("d_model", one=True)))),
    Signature("EncoderLayer", (
        DType(), MaskKind(), MaskShape(forms=("[n,n]", "[B,1,1,n]", "[B,1,n,n]", "[B,n_head,n,n]")), Batch(),
        Setting("eps", default=1e-5, other=1e-2),
        Classified("n_head", ("1", ">1"), _init_form("n_head", one=True)),
        Classified("d_model_parity", ("odd", "even"), _init_form("d_model")),
        Classified("n", ("1", ">1"), lambda c: "1" if c.get("x").shape[-2] == 1 else ">1")),
        core={"x": 2, "mask": 3}, scores=_scores, score_names=("B", "n_head", "n", "n")),
]
