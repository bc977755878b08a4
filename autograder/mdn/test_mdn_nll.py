"""Graders for mdn_loss (assignment ``mdn``)."""
import pytest

from dlgrade.grading.probes import Probe, randn


def loss(B=4, K=3, y_scale=1.0, y_shift=0.0, log_sigma_scale=0.5, dtype="float32", seed=0):
    """pi on the simplex, sigma = exp(N(0, log_sigma_scale^2)), mu ~ N(0, 1), y ~ N(y_shift, y_scale^2).

    With y_shift=+-150 and log_sigma_scale=0.3, y is more than 50 standard deviations from every mean:
    every density underflows to 0, in float64 too."""
    args = (randn(B, K, transform="softmax"), randn(B, K, scale=log_sigma_scale, transform="exp"),
            randn(B, K), randn(B, 1, scale=y_scale, shift=y_shift))
    return Probe("mdn_loss", args, dtype=dtype, seed=seed, arg_names=("pi", "sigma", "mu", "y"),
                 out_names="loss")


FAR = dict(log_sigma_scale=0.3)


@pytest.mark.public
@pytest.mark.points(1)
def test_loss_api_and_shape(grader):
    """mdn_loss keeps its signature and returns a scalar (shape [])"""
    grader.api("mdn_loss", method=None)
    grader.shapes(loss())
    grader.shapes(loss(B=1, K=1, seed=1))


@pytest.mark.public
@pytest.mark.points(3)
def test_loss_values(grader):
    """The loss matches the reference (several components, y near the means, float32 and float64, batch 1)"""
    grader.values(loss())
    grader.values(loss(B=6, K=2, y_scale=2.0, seed=2))
    grader.values(loss(B=1, K=4, dtype="float64", seed=16))


@pytest.mark.public
@pytest.mark.points(2)
def test_loss_far_from_every_component(grader):
    """The loss stays finite and accurate when y is far from every component (float64)"""
    grader.values(loss(B=3, K=4, y_shift=150.0, **FAR, dtype="float64", seed=3))


@pytest.mark.points(2)
def test_loss_values_edge_cases(grader):
    """float64, batch 1, a single Gaussian, narrow and wide components"""
    grader.values(loss(B=5, K=4, dtype="float64", seed=4))
    grader.values(loss(B=1, K=3, seed=5))
    grader.values(loss(B=4, K=1, dtype="float64", seed=6))
    grader.values(loss(B=6, K=5, y_scale=3.0, log_sigma_scale=1.5, seed=7))


@pytest.mark.points(2)
def test_loss_far_hidden(grader):
    """Far-away targets: below every mean, in float64, and mixed near and far in one batch"""
    grader.values(loss(B=4, K=2, y_shift=-120.0, **FAR, dtype="float64", seed=8))
    grader.values(loss(B=1, K=5, y_shift=200.0, **FAR, seed=9))
    grader.values(loss(B=8, K=3, y_scale=100.0, **FAR, dtype="float64", seed=10))


@pytest.mark.points(2)
def test_loss_gradients(grader):
    """Gradients w.r.t. pi (as given, not renormalized), sigma, mu and y match the reference"""
    grader.gradients(loss(B=3, K=4, dtype="float64", seed=11))
    grader.gradients(loss(B=5, K=2, y_scale=2.0, seed=12))


@pytest.mark.points(1)
def test_loss_gradients_far(grader):
    """Gradients stay finite and match the reference when y is far from every component"""
    # seed 130: in one row two components are within 2 nats of each other, so the posterior is
    # mixed and the gradients w.r.t. sigma and mu depend on pi even this far out
    grader.gradients(loss(B=3, K=3, y_shift=150.0, **FAR, dtype="float64", seed=130))
    grader.gradients(loss(B=4, K=2, y_shift=-100.0, **FAR, seed=14))


@pytest.mark.public
@pytest.mark.points(1)
def test_loss_inputs_unchanged(grader):
    """mdn_loss returns a scalar and does not modify pi, sigma, mu or y in place"""
    probe = loss(B=4, K=3, seed=15)
    grader.unchanged(probe)
    grader.shapes(probe)
