"""Graders for MDN (assignment ``mdn``)."""
import pytest

from dlgrade.grading.probes import Probe, randn

OUT = ("pi", "sigma", "mu")


def network(B=4, in_features=3, n_hidden=8, n_gaussians=5, x_scale=1.0, dtype="float32", seed=0):
    return Probe("MDN", (randn(B, in_features, scale=x_scale),),
                 init=dict(in_features=in_features, n_hidden=n_hidden, n_gaussians=n_gaussians),
                 dtype=dtype, seed=seed, arg_names=("x",), out_names=OUT)


@pytest.mark.public
@pytest.mark.points(1)
def test_mdn_api_and_shapes(grader):
    """MDN keeps its signature and returns pi, sigma, mu, each [B, n_gaussians]"""
    grader.api("MDN")
    grader.shapes(network())
    grader.shapes(network(B=1, in_features=2, n_hidden=3, n_gaussians=4, seed=1))


@pytest.mark.public
@pytest.mark.points(3)
def test_mdn_values(grader):
    """pi, sigma and mu match the reference (pi sums to 1 over the components, sigma > 0; float32 and float64, batch 1)"""
    grader.values(network())
    grader.values(network(B=6, in_features=1, n_hidden=5, n_gaussians=3, seed=2))
    grader.values(network(B=1, in_features=3, n_hidden=4, n_gaussians=2, dtype="float64", seed=10))


@pytest.mark.points(2)
def test_mdn_values_edge_cases(grader):
    """float64, batch 1, a single Gaussian, large inputs (saturated tanh)"""
    grader.values(network(B=3, in_features=4, n_hidden=6, n_gaussians=2, dtype="float64", seed=3))
    grader.values(network(B=1, in_features=2, n_hidden=4, n_gaussians=6, seed=4))
    grader.values(network(B=5, in_features=3, n_hidden=2, n_gaussians=1, dtype="float64", seed=5))
    grader.values(network(B=7, in_features=2, n_hidden=10, n_gaussians=4, x_scale=5.0, seed=6))


@pytest.mark.points(2)
def test_mdn_gradients(grader):
    """Gradients w.r.t. x and every parameter (z_h, z_pi, z_sigma, z_mu) match the reference"""
    grader.gradients(network(B=3, dtype="float64", seed=7))
    grader.gradients(network(B=5, in_features=2, n_hidden=6, n_gaussians=3, seed=8))


@pytest.mark.public
@pytest.mark.points(1)
def test_mdn_input_unchanged(grader):
    """MDN returns the right shapes and does not modify x in place"""
    probe = network(B=4, in_features=2, n_hidden=5, n_gaussians=3, seed=9)
    grader.unchanged(probe)
    grader.shapes(probe)
