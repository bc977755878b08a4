"""Catalogue of known mistakes for ``attention``: each is an edit of ``solutions/attention.py``."""
from dlgrade.authoring.mistakes import Mistake

_MASK = 'scores = scores.masked_fill(mask == 0, float("-inf"))'
_INVERTED = "the mask looks inverted: True/1 means the query MAY attend to that key, False/0 blocks it."

MISTAKES = [
    Mistake("no_scaling",
            "the scores do not seem scaled: divide Q K^T by sqrt(d_k).",
            (("scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)", "scores = Q @ K.transpose(-2, -1)"),)),
    Mistake("scale_by_d_feat",
            "the scores look scaled by 1/sqrt(d_feat); each head must use 1/sqrt(d_head).",
            (("scaled_dot_product_attention(q, k, v, mask)",
              "scaled_dot_product_attention(q * math.sqrt(self.d_head / self.d_feat), k, v, mask)"),)),
    Mistake("softmax_wrong_axis",
            "the softmax seems taken over the queries; take it over the keys (the last dimension), "
            "so each row of attention sums to 1.",
            (("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)"),)),
    Mistake("mask_inverted", _INVERTED, ((_MASK, 'scores = scores.masked_fill(mask != 0, float("-inf"))'),)),
    Mistake("mask_inverted_large_negative", _INVERTED, ((_MASK, "scores = scores.masked_fill(mask != 0, -1e9)"),)),
    Mistake("mask_ignored",
            "the mask seems to be ignored: blocked keys (mask False/0) must get zero attention.",
            (("if mask is not None:", "if False:"),)),
    Mistake("mask_fill_zero",
            "masked scores look set to 0 instead of -inf: a blocked key still gets weight after the softmax.",
            ((_MASK, "scores = scores.masked_fill(mask == 0, 0.0)"),)),
    Mistake("no_output_projection",
            "the output projection lin_O seems missing.",
            (("return self.lin_O(merged), attention", "return merged, attention"),)),
    Mistake("heads_split_without_transpose",
            "the heads look split with a plain view to [B, n_head, n, d_head]; view as "
            "[B, n, n_head, d_head] and then transpose(1, 2).",
            (("self.lin_Q(Q).view(B, n_Q, self.n_head, self.d_head).transpose(1, 2)",
              "self.lin_Q(Q).view(B, self.n_head, n_Q, self.d_head)"),
             ("self.lin_K(K).view(B, n_K, self.n_head, self.d_head).transpose(1, 2)",
              "self.lin_K(K).view(B, self.n_head, n_K, self.d_head)"),
             ("self.lin_V(V).view(B, n_K, self.n_head, self.d_head).transpose(1, 2)",
              "self.lin_V(V).view(B, self.n_head, n_K, self.d_head)"))),
    Mistake("heads_merged_without_transpose",
            "the heads look merged without transposing back: [B, n_head, n_Q, d_head] -> "
            "transpose(1, 2) -> [B, n_Q, n_head, d_head] -> reshape to [B, n_Q, d_feat].",
            (("heads.transpose(1, 2).reshape(B, n_Q, self.d_feat)", "heads.reshape(B, n_Q, self.d_feat)"),)),
    Mistake("keys_as_values",
            "the values look computed from K instead of V (lin_V(K)).",
            (("self.lin_V(V)", "self.lin_V(K)"),)),
    Mistake("attention_averaged_over_heads",
            "attention looks averaged over the heads; return every head's weights, [B, n_head, n_Q, n_K].",
            (("return self.lin_O(merged), attention", "return self.lin_O(merged), attention.mean(dim=1)"),)),
]

# Inputs modified in place (a common habit: /=, +=, a method ending in _ on an argument): the
# outputs stay right; the public "does not modify ... in place" check fails and shows the hint.
IN_PLACE_MISTAKES = [
    Mistake("q_scaled_in_place",
            "Q looks divided in place (Q /= math.sqrt(d_k)): that modifies the caller's tensor. Divide into a "
            "new tensor instead (Q / math.sqrt(d_k), or the scores); never use /=, *=, += or a method ending "
            "in _ on an input.",
            (("scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)",
              "Q /= math.sqrt(d_k)\n    scores = Q @ K.transpose(-2, -1)"),)),
]

MISTAKES += IN_PLACE_MISTAKES
