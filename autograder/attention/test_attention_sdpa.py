"""Graders for scaled_dot_product_attention (assignment ``attention``)."""
import pytest

from dlgrade.grading.probes import Probe, causal_mask, padding_mask, randn

OUT = ("out", "attention")


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
    """out and attention match the reference without a mask (n_Q != n_K, d_k != d_v)"""
    grader.values(sdpa())
    grader.values(sdpa(batch=(), n_Q=5, n_K=2, d_k=8, d_v=3, seed=2))


@pytest.mark.public
@pytest.mark.points(2)
def test_sdpa_masks(grader):
    """out and attention match the reference with a causal and a padding mask (True = may attend)"""
    grader.values(sdpa(batch=(2,), n_Q=4, n_K=4, mask=causal_mask(4), seed=3))
    grader.values(sdpa(batch=(3, 1), n_Q=2, n_K=5, mask=padding_mask([5, 2, 3], 5), seed=4))  # [3, 1, 1, 5]


@pytest.mark.points(2)
def test_sdpa_masks_hidden(grader):
    """Masks given as 0/1 integers, broadcast over leading dimensions, in float64"""
    grader.values(sdpa(batch=(2, 2), n_Q=5, n_K=5, mask=causal_mask(5, as_int=True), dtype="float64", seed=5))
    grader.values(sdpa(batch=(3,), n_Q=3, n_K=6, mask=padding_mask([6, 1, 4], 6, as_int=True)[:, 0, 0][:, None, :],
                       seed=6))
    grader.values(sdpa(batch=(1,), n_Q=1, n_K=1, d_k=1, d_v=1, mask=causal_mask(1), seed=7))


@pytest.mark.points(2)
def test_sdpa_gradients(grader):
    """Gradients w.r.t. Q, K and V match the reference (with and without a mask)"""
    grader.gradients(sdpa(dtype="float64", seed=8))
    grader.gradients(sdpa(batch=(2,), n_Q=4, n_K=4, mask=causal_mask(4), seed=9))


@pytest.mark.points(1)
def test_sdpa_inputs_unchanged(grader):
    """scaled_dot_product_attention does not modify Q, K, V or the mask in place"""
    probe = sdpa(batch=(2,), n_Q=4, n_K=4, mask=causal_mask(4), seed=10)
    grader.unchanged(probe)
    grader.values(probe)
