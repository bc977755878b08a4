"""Catalogue of known mistakes for ``transformer``: each is an edit of ``solutions/transformer.py``."""
from dlgrade.authoring.mistakes import Mistake

# lines of the reference that several mistakes edit
_POSITIONS = "torch.arange(n_position, dtype=torch.float64)"
_SIN = "pe[:, 0::2] = torch.sin(angle)"
_COS = "pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])"
_ATTEND = "attended, attention = self.self_attn(x, x, x, mask)"
_NORM1 = "x = self.norm1(x + attended)"
_FF1 = "hidden = torch.relu(self.ff1(x))"
_NORM2 = "out = self.norm2(x + self.ff2(hidden))"
_RETURN = "return out, attention"


def _seq_axis_norm(norm: str, value: str) -> str:
    """A hand-written LayerNorm of ``value`` over dimension 1 (the positions), with ``norm``'s
    weight, bias and eps."""
    return (f"(({value}) - ({value}).mean(1, keepdim=True)) / torch.sqrt(({value}).var(1, unbiased=False, "
            f"keepdim=True) + self.{norm}.eps) * self.{norm}.weight + self.{norm}.bias")


MISTAKES = [
    # -- positional_encoding --------------------------------------------------------------------
    Mistake(
        id="pe_sin_cos_swapped",
        hint="sine and cosine look swapped: the even features (0, 2, 4, ...) are sin, the odd ones cos.",
        edits=((_SIN, "pe[:, 0::2] = torch.cos(angle)"),
               (_COS, "pe[:, 1::2] = torch.sin(angle[:, : d_model // 2])")),
    ),
    Mistake(
        id="pe_exponent_i_over_d",
        hint="the angles look like pos / 10000^(i/d_model) with i the pair index; the exponent is "
             "2i/d_model, 2i being the even feature index (0, 2, 4, ...).",
        edits=(("10000.0 ** (two_i / d_model)", "10000.0 ** (two_i / 2 / d_model)"),),
    ),
    Mistake(
        id="pe_exponent_doubled",
        hint="the angles look like pos / 10000^(4i/d_model): the even feature index 2i is doubled once "
             "more; arange(0, d_model, 2) already gives 2i.",
        edits=(("10000.0 ** (two_i / d_model)", "10000.0 ** (2 * two_i / d_model)"),),
    ),
    Mistake(
        id="pe_halves_concatenated",
        hint="the features look like all the sines, then all the cosines ([sin | cos]); they interleave: "
             "feature 2i is a sine, feature 2i+1 the cosine of the same angle.",
        edits=((_SIN, "pe[:, : angle.shape[1]] = torch.sin(angle)"),
               (_COS, "pe[:, angle.shape[1]:] = torch.cos(angle[:, : d_model // 2])")),
    ),
    Mistake(
        id="pe_cos_own_exponent",
        hint="the cosine features look computed with their own index in the exponent, (2i+1)/d_model; "
             "features 2i and 2i+1 share the angle pos / 10000^(2i/d_model).",
        edits=((_COS, "pe[:, 1::2] = torch.cos(position / 10000.0 ** ((two_i[:, : d_model // 2] + 1) / d_model))"),),
    ),
    Mistake(
        id="pe_positions_from_one",
        hint="the positions seem to start at 1; the first row is position 0 (sin 0 = 0, cos 0 = 1).",
        edits=((_POSITIONS, "torch.arange(1, n_position + 1, dtype=torch.float64)"),),
    ),
    # -- EncoderLayer ---------------------------------------------------------------------------
    Mistake(
        id="pre_norm",
        hint="this looks like a pre-norm layer (x + sublayer(norm(x))); this layer is post-norm: "
             "norm1(x + self_attn(x, x, x)), then norm2(h + ff(h)).",
        edits=((_ATTEND, "normed = self.norm1(x)\n"
                         "        attended, attention = self.self_attn(normed, normed, normed, mask)"),
               (_NORM1, "x = x + attended"),
               (_FF1, "hidden = torch.relu(self.ff1(self.norm2(x)))"),
               (_NORM2, "out = x + self.ff2(hidden)")),
    ),
    Mistake(
        id="no_attention_residual",
        hint="the residual around the self-attention seems missing: norm1 takes x + the attention's output.",
        edits=((_NORM1, "x = self.norm1(attended)"),),
    ),
    Mistake(
        id="no_ff_residual",
        hint="the residual around the feed-forward block seems missing: norm2 takes h + ff2(relu(ff1(h))).",
        edits=((_NORM2, "out = self.norm2(self.ff2(hidden))"),),
    ),
    Mistake(
        id="ff_residual_from_input",
        hint="the feed-forward residual seems to add the layer's input x; add h, the output of the "
             "first sublayer (after norm1), the same h that goes into ff1.",
        edits=((_NORM1, "h = self.norm1(x + attended)"), (_FF1, "hidden = torch.relu(self.ff1(h))")),
    ),
    Mistake(
        id="layernorm_over_positions",
        hint="the LayerNorm seems taken over the positions (dimension 1); normalise each position over "
             "its d_model features (the last dimension), as self.norm1 and self.norm2 do.",
        edits=((_NORM1, f"x = {_seq_axis_norm('norm1', 'x + attended')}"),
               (_NORM2, f"out = {_seq_axis_norm('norm2', 'x + self.ff2(hidden)')}")),
    ),
    Mistake(
        id="norms_swapped",
        hint="norm1 and norm2 look swapped: norm1 follows the self-attention, norm2 the feed-forward block.",
        edits=((_NORM1, "x = self.norm2(x + attended)"), (_NORM2, "out = self.norm1(x + self.ff2(hidden))")),
    ),
    Mistake(
        id="no_relu",
        hint="the ReLU between ff1 and ff2 seems missing: ff2(relu(ff1(h))).",
        edits=((_FF1, "hidden = self.ff1(x)"),),
    ),
    Mistake(
        id="mask_not_passed",
        hint="the mask seems not passed to the self-attention: self_attn(x, x, x, mask).",
        edits=((_ATTEND, "attended, attention = self.self_attn(x, x, x)"),),
    ),
    Mistake(
        id="mask_inverted",
        hint="the mask looks inverted: here True/1 means the query MAY attend to that key (the given "
             "MultiHeadedAttention's convention, the opposite of nn.TransformerEncoderLayer's src_mask); "
             "pass it on as it is.",
        edits=((_ATTEND, "attended, attention = self.self_attn(x, x, x, None if mask is None else mask == 0)"),),
    ),
    Mistake(
        id="attention_of_normed_x",
        hint="attention looks like the weights of a second self-attention call on norm1's output; return "
             "the weights of the one self-attention call on the input x.",
        edits=((_RETURN, "return out, self.self_attn(x, x, x, mask)[1]"),),
    ),
]

# Inputs modified in place (a common habit: /=, +=, a method ending in _ on an argument): the
# outputs stay right; the public "does not modify ... in place" check fails and shows the hint.
IN_PLACE_MISTAKES = [
    Mistake(
        id="residual_added_in_place",
        hint="x looks modified in place (x += attended): that changes the caller's input. Add into a new "
             "tensor instead, self.norm1(x + attended); never use +=, *= or a method ending in _ on an input.",
        edits=((_NORM1, "x += attended\n        x = self.norm1(x)"),),
    ),
]

MISTAKES += IN_PLACE_MISTAKES
