"""Graders for EncoderLayer (assignment ``transformer``)."""
import pytest
import torch

from dlgrade.grading.probes import Probe, causal_mask, padding_mask, randn

OUT = ("out", "attention")


def head_mask(B: int, n_head: int, n: int, seed: int) -> torch.Tensor:
    """A random ``[B, n_head, n, n]`` mask, a different one per head; every query keeps itself."""
    allowed = torch.rand(B, n_head, n, n, generator=torch.Generator().manual_seed(seed)) < 0.5
    return allowed | torch.eye(n, dtype=torch.bool)


def layer(B=2, n=5, d_model=8, n_head=2, d_ff=16, mask=None, eps=None, fresh_norms=False, dtype="float32",
          seed=0):
    """A call of ``EncoderLayer.forward``. Unless ``fresh_norms``, the LayerNorms get random weights
    and biases: fresh ones are the identity, under which norm1 and norm2 could be swapped unseen."""
    args = (randn(B, n, d_model),) if mask is None else (randn(B, n, d_model), mask)
    init = dict(d_model=d_model, n_head=n_head, d_ff=d_ff) | ({} if eps is None else dict(eps=eps))
    params = {} if fresh_norms else {f"norm{k}.{p}": randn(d_model) for k in (1, 2) for p in ("weight", "bias")}
    return Probe("EncoderLayer", args, init=init, dtype=dtype, seed=seed, arg_names=("x", "mask"),
                 out_names=OUT, params=params)


@pytest.mark.public
@pytest.mark.points(1)
def test_encoder_api_and_shapes(grader):
    """EncoderLayer keeps its signature and returns out [B, n, d_model], attention [B, n_head, n, n]"""
    grader.api("EncoderLayer")
    for probe in (layer(), layer(B=1, n=3, d_model=12, n_head=3, d_ff=6, seed=1),
                  layer(B=3, n=2, d_model=4, n_head=4, d_ff=8, mask=causal_mask(2), seed=16)):
        grader.shapes(probe)


@pytest.mark.public
@pytest.mark.points(3)
def test_encoder_values(grader):
    """out and attention match the reference (no mask, several heads, d_ff != d_model, float32 and float64, batch 1)"""
    for probe in (layer(), layer(B=3, n=4, d_model=12, n_head=4, d_ff=20, seed=2),
                  layer(B=2, n=6, d_model=10, n_head=5, d_ff=4, seed=17),
                  layer(B=1, n=3, d_model=6, n_head=2, d_ff=5, dtype="float64", seed=19)):
        grader.values(probe)


@pytest.mark.public
@pytest.mark.points(2)
def test_encoder_masks(grader):
    """out and attention match the reference with padding, causal and per-head masks (True = may attend)"""
    grader.values(layer(B=3, n=5, mask=padding_mask([3, 1, 4], 5), seed=3))
    grader.values(layer(B=2, n=4, n_head=4, mask=causal_mask(4), seed=4))
    grader.values(layer(B=2, n=5, n_head=2, mask=head_mask(2, 2, 5, seed=18), seed=18))


@pytest.mark.points(2)
def test_encoder_values_edge_cases(grader):
    """float64, batch 1, one head, one position, fresh LayerNorms, another eps, 0/1 integer and [B, 1, n, n] masks"""
    grader.values(layer(dtype="float64", seed=5))
    grader.values(layer(B=1, n=6, d_model=6, n_head=1, d_ff=3, seed=6))
    grader.values(layer(B=2, n=1, seed=7))
    grader.values(layer(B=2, n=3, d_model=9, n_head=3, d_ff=4, fresh_norms=True, seed=8))
    grader.values(layer(B=2, n=4, eps=0.1, dtype="float64", seed=9))
    grader.values(layer(B=2, n=5, d_model=12, n_head=3, mask=causal_mask(5, as_int=True), dtype="float64",
                        seed=10))
    grader.values(layer(B=2, n=4, mask=padding_mask([2, 3], 4, as_int=True), seed=11))
    # one [n, n] mask per batch element, shared by the heads, as 0/1 integers
    grader.values(layer(B=3, n=4, d_model=6, n_head=2, d_ff=5, mask=head_mask(3, 1, 4, seed=20).long(), seed=20))


@pytest.mark.points(2)
def test_encoder_gradients(grader):
    """Gradients w.r.t. x and every parameter (attention, LayerNorms, feed-forward) match the reference"""
    grader.gradients(layer(dtype="float64", seed=12))
    grader.gradients(layer(B=3, n=4, n_head=4, mask=causal_mask(4), seed=13))
    grader.gradients(layer(B=2, n=5, d_model=6, n_head=3, d_ff=7, mask=padding_mask([5, 2], 5), dtype="float64",
                           seed=14))


@pytest.mark.public
@pytest.mark.points(1)
def test_encoder_inputs_unchanged(grader):
    """EncoderLayer returns the right shapes and does not modify x or the mask in place"""
    probe = layer(B=2, n=5, mask=padding_mask([5, 3], 5), seed=15)
    grader.unchanged(probe)
    grader.shapes(probe)
