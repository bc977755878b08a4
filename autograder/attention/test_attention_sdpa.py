"""Graders for scaled_dot_product_attention (assignment ``attention``)."""
import pytest
import torch

from dlgrade.grading.probes import Probe, causal_mask, padding_mask, randn

OUT = ("out", "attention")


def random_mask(*shape: int, seed: int, as_int: bool = False) -> torch.Tensor:
    """A random mask of ``shape`` (``[..., rows, n_K]``) allowing about half the keys; row ``i``
    always allows key ``i % n_K``, so every query keeps at least one key."""
    allowed = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.5
    rows, n_K = shape[-2], shape[-1]
    allowed |= torch.arange(n_K) == torch.arange(rows)[:, None] % n_K
    return allowed.long() if as_int else allowed


def sdpa(batch=(2,), n_Q=3, n_K=4, d_k=5, d_v=6, mask=None, dtype="float32", seed=0):
    args = (randn(*batch, n_Q, d_k), randn(*batch, n_K, d_k), randn(*batch, n_K, d_v))
    if mask is not None:
        args += (mask,)
    return Probe("scaled_dot_product_attention", args, dtype=dtype, seed=seed,
                 arg_names=("Q", "K", "V", "mask"), out_names=OUT)


@pytest.mark.public
@pytest.mark.points(1)
def test_sdpa_api_and_shapes(grader):
    """scaled_dot_product_attention keeps its signature and returns (out, attention) with the right shapes"""
    grader.api("scaled_dot_product_attention", method=None)
    grader.shapes(sdpa())
    grader.shapes(sdpa(batch=(2, 3), n_Q=1, n_K=5, d_k=2, d_v=3, seed=1))


@pytest.mark.public
@pytest.mark.points(2)
def test_sdpa_values(grader):
    """out and attention match the reference without a mask (n_Q != n_K, d_k != d_v, float32 and float64, batch 1)"""
    grader.values(sdpa())
    grader.values(sdpa(batch=(), n_Q=5, n_K=2, d_k=8, d_v=3, seed=2))
    grader.values(sdpa(batch=(1,), n_Q=4, n_K=3, d_k=4, d_v=4, dtype="float64", seed=11))


@pytest.mark.public
@pytest.mark.points(2)
def test_sdpa_masks(grader):
    """out and attention match the reference with a causal and a padding mask (True = may attend)"""
    grader.values(sdpa(batch=(2,), n_Q=4, n_K=4, mask=causal_mask(4), seed=3))
    grader.values(sdpa(batch=(3, 1), n_Q=2, n_K=5, mask=padding_mask([5, 2, 3], 5), seed=4))  # [3, 1, 1, 5]


@pytest.mark.points(2)
def test_sdpa_masks_hidden(grader):
    """Masks of every documented shape ([n_K], [n_Q, n_K], [..., 1, n_K], full, broadcast over a leading dimension), bool and 0/1 integers, in float64"""
    grader.values(sdpa(batch=(2, 2), n_Q=5, n_K=5, mask=causal_mask(5, as_int=True), dtype="float64", seed=5))
    grader.values(sdpa(batch=(3,), n_Q=3, n_K=6, mask=padding_mask([6, 1, 4], 6, as_int=True)[:, 0, 0][:, None, :],
                       seed=6))
    grader.values(sdpa(batch=(1,), n_Q=1, n_K=1, d_k=1, d_v=1, mask=causal_mask(1), seed=7))
    # a 1-D [n_K] mask: the same keys blocked for every query
    grader.values(sdpa(batch=(2,), n_Q=3, n_K=5, d_k=4, d_v=4, mask=torch.tensor([1, 0, 1, 1, 0]), seed=12))
    # the full [B, n_Q, n_K] mask, a different one per batch element
    grader.values(sdpa(batch=(3,), n_Q=4, n_K=6, mask=random_mask(3, 4, 6, seed=13), dtype="float64", seed=13))
    # [B, 1, n_Q, n_K] against leading dimensions (B, h): broadcast over the second one
    grader.values(sdpa(batch=(2, 3), n_Q=3, n_K=4, d_k=3, mask=random_mask(2, 1, 3, 4, seed=14, as_int=True),
                       seed=14))


@pytest.mark.points(2)
def test_sdpa_gradients(grader):
    """Gradients w.r.t. Q, K and V match the reference (with and without a mask)"""
    grader.gradients(sdpa(dtype="float64", seed=8))
    grader.gradients(sdpa(batch=(2,), n_Q=4, n_K=4, mask=causal_mask(4), seed=9))


@pytest.mark.public
@pytest.mark.points(1)
def test_sdpa_inputs_unchanged(grader):
    """scaled_dot_product_attention returns the right shapes and does not modify Q, K, V or the mask in place"""
    probe = sdpa(batch=(2,), n_Q=4, n_K=4, mask=causal_mask(4), seed=10)
    grader.unchanged(probe)
    grader.shapes(probe)
