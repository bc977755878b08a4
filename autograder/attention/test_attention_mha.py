"""Graders for MultiHeadedAttention (assignment ``attention``)."""
import pytest
import torch

from dlgrade.grading.probes import Probe, causal_mask, padding_mask, randn

OUT = ("out", "attention")


def random_mask(*shape: int, seed: int, as_int: bool = False) -> torch.Tensor:
    """A random mask of ``shape`` (``[..., n_Q, n_K]``) allowing about half the keys; query ``i``
    always allows key ``i % n_K``, so every query keeps at least one key."""
    allowed = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.5
    rows, n_K = shape[-2], shape[-1]
    allowed |= torch.arange(n_K) == torch.arange(rows)[:, None] % n_K
    return allowed.long() if as_int else allowed


def mha(B=2, n_Q=3, n_K=4, d_feat=8, n_head=2, mask=None, bias=True, dtype="float32", seed=0):
    args = (randn(B, n_Q, d_feat), randn(B, n_K, d_feat), randn(B, n_K, d_feat))
    if mask is not None:
        args += (mask,)
    return Probe("MultiHeadedAttention", args, init=dict(d_feat=d_feat, n_head=n_head, bias=bias),
                 dtype=dtype, seed=seed, arg_names=("Q", "K", "V", "mask"), out_names=OUT)


@pytest.mark.public
@pytest.mark.points(1)
def test_mha_api_and_shapes(grader):
    """MultiHeadedAttention keeps its signature and returns out [B, n_Q, d_feat], attention [B, n_head, n_Q, n_K]"""
    grader.api("MultiHeadedAttention")
    grader.shapes(mha())
    grader.shapes(mha(B=1, n_Q=5, n_K=2, d_feat=12, n_head=3, seed=1))


@pytest.mark.public
@pytest.mark.points(3)
def test_mha_values(grader):
    """out and attention match the reference (several heads, n_Q != n_K, no mask, float32 and float64, batch 1)"""
    grader.values(mha())
    grader.values(mha(B=3, n_Q=2, n_K=5, d_feat=12, n_head=4, seed=2))
    grader.values(mha(B=1, n_Q=4, n_K=2, d_feat=6, n_head=2, dtype="float64", seed=12))


@pytest.mark.public
@pytest.mark.points(2)
def test_mha_masks(grader):
    """out and attention match the reference with a padding and a causal mask"""
    grader.values(mha(B=3, n_Q=2, n_K=5, mask=padding_mask([5, 2, 3], 5), seed=3))
    grader.values(mha(B=2, n_Q=4, n_K=4, n_head=4, mask=causal_mask(4), seed=4))


@pytest.mark.points(2)
def test_mha_values_edge_cases(grader):
    """float64, batch 1, one head, no bias, 0/1 integer masks, [B, 1, n_Q, n_K], per-head and [1, n_head, n_Q, n_K] masks"""
    grader.values(mha(dtype="float64", seed=5))
    grader.values(mha(B=1, n_Q=6, n_K=3, d_feat=6, n_head=1, seed=6))
    grader.values(mha(B=2, n_Q=3, n_K=3, d_feat=9, n_head=3, bias=False, mask=causal_mask(3, as_int=True),
                      dtype="float64", seed=7))
    grader.values(mha(B=2, n_Q=1, n_K=4, mask=padding_mask([4, 1], 4, as_int=True), seed=8))
    # one mask per batch element, shared by the heads
    grader.values(mha(B=2, n_Q=3, n_K=5, mask=random_mask(2, 1, 3, 5, seed=13), seed=13))
    # a different mask per batch element and head, as 0/1 integers
    grader.values(mha(B=2, n_Q=4, n_K=3, n_head=4, mask=random_mask(2, 4, 4, 3, seed=14, as_int=True),
                      dtype="float64", seed=14))
    # a different mask per head, shared by the batch
    grader.values(mha(B=3, n_Q=2, n_K=4, d_feat=6, n_head=3, bias=False, mask=random_mask(1, 3, 2, 4, seed=15),
                      seed=15))


@pytest.mark.points(2)
def test_mha_gradients(grader):
    """Gradients w.r.t. Q, K, V and every projection's weight and bias match the reference"""
    grader.gradients(mha(dtype="float64", seed=9))
    grader.gradients(mha(B=2, n_Q=4, n_K=4, n_head=4, mask=causal_mask(4), seed=10))


@pytest.mark.public
@pytest.mark.points(1)
def test_mha_inputs_unchanged(grader):
    """MultiHeadedAttention returns the right shapes and does not modify Q, K, V or the mask in place"""
    probe = mha(B=2, n_Q=3, n_K=5, mask=padding_mask([5, 3], 5), seed=11)
    grader.unchanged(probe)
    grader.shapes(probe)
