"""The ``mdn`` reference against PyTorch's built-ins.

``mdn_loss`` must equal ``-MixtureSameFamily(Categorical(probs=pi), Normal(mu, sigma))
.log_prob(y).mean()`` (values and gradients, float32 and float64), also when ``y`` lies 50 to 200
standard deviations from every mean, where the naive ``log(sum_k pi_k N_k)`` is ``inf``. ``MDN``
must compute ``softmax``/``exp``/identity heads on a ``tanh`` hidden layer, written here with
``torch.nn.functional``.

The reference is read as everything else reads it: ``get_assignment("mdn").reference_source``.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_reference_vs_torch import DTYPES, assert_close, assert_unchanged, grads, seed, snapshot
from torch.distributions import Categorical, MixtureSameFamily, Normal

from dlgrade.authoring.mistakes import module_from_source
from dlgrade.authoring.registry import get_assignment

mdn = module_from_source(get_assignment("mdn").reference_source, "_dlgrade_reference_mdn", "<reference mdn>")


def torch_nll(pi, sigma, mu, y, logits=None):
    """The built-in loss; with ``logits``, the mixture weights are ``softmax(logits)``."""
    mixing = Categorical(probs=pi) if logits is None else Categorical(logits=logits)
    return -MixtureSameFamily(mixing, Normal(mu, sigma)).log_prob(y.squeeze(-1)).mean()


def naive_nll(pi, sigma, mu, y):
    """The unstable form: the log of the weighted sum of densities."""
    density = torch.exp(-0.5 * ((y - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return -torch.log((pi * density).sum(-1)).mean()


def mixture(B, K, dtype, requires_grad=False):
    """``pi`` on the simplex, positive ``sigma``, ``mu``: each ``[B, K]``."""
    pi = torch.softmax(2 * torch.randn(B, K, dtype=dtype), dim=-1)
    sigma = torch.exp(0.5 * torch.randn(B, K, dtype=dtype))
    mu = 2 * torch.randn(B, K, dtype=dtype)
    return [t.requires_grad_(requires_grad) for t in (pi, sigma, mu)]


def targets(sigma, mu, where, requires_grad=False):
    """``y`` ``[B, 1]``: near the means, or ``where`` = ``(n, side)``: ``n`` standard deviations
    beyond the farthest component on that side (so at least ``n`` from every one)."""
    B = mu.shape[0]
    if where == "near":
        y = 3 * torch.randn(B, 1, dtype=mu.dtype)
    else:
        n, side = where
        edge = (mu + side * n * sigma).detach()
        y = (edge.amax(-1, keepdim=True) if side > 0 else edge.amin(-1, keepdim=True)) + side * torch.rand(B, 1)
        z = ((y - mu) / sigma).abs()
        assert (z >= n).all() and (z.amin(-1) <= 4 * n).all()
    return y.detach().to(mu.dtype).requires_grad_(requires_grad)


def assert_finite_and_close(actual, expected, dtype):
    """Each tensor of ``actual`` is finite (no overflow, no 0/0) and close to ``expected``'s."""
    for got, want in zip(actual, expected, strict=True):
        assert torch.isfinite(got).all()
        assert_close(got, want, dtype)


# (B, K)
SHAPES = [(1, 1), (1, 4), (5, 1), (3, 2), (8, 5), (16, 10)]
WHERE = ["near", (50, 1), (100, -1), (200, 1)]
WHERE_IDS = ["near", "50sd_above", "100sd_below", "200sd_above"]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("where", WHERE, ids=WHERE_IDS)
@pytest.mark.parametrize("B, K", SHAPES)
def test_loss_matches_mixture_same_family(B, K, where, dtype):
    seed("mdn_loss", B, K, where, dtype)
    pi, sigma, mu = mixture(B, K, dtype)
    y = targets(sigma, mu, where)
    inputs = [pi, sigma, mu, y]
    copies = snapshot(*inputs)

    loss = mdn.mdn_loss(pi, sigma, mu, y)

    assert loss.shape == () and loss.dtype == dtype
    assert torch.isfinite(loss)
    assert_close(loss, torch_nll(pi, sigma, mu, y), dtype)
    assert_unchanged(inputs, copies)
    if where != "near":  # the case is as far as claimed: the naive form has underflowed
        assert naive_nll(pi, sigma, mu, y) == math.inf


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("where", WHERE, ids=WHERE_IDS)
@pytest.mark.parametrize("B, K", SHAPES)
def test_loss_gradients_match_mixture_same_family(B, K, where, dtype):
    seed("mdn_loss_grad", B, K, where, dtype)
    pi, sigma, mu = mixture(B, K, dtype, requires_grad=True)
    y = targets(sigma, mu, where, requires_grad=True)
    upstream = torch.randn((), dtype=dtype)

    g_pi, *g_rest = grads(mdn.mdn_loss(pi, sigma, mu, y), [pi, sigma, mu, y], upstream)
    t_pi, *t_rest = grads(torch_nll(pi, sigma, mu, y), [pi, sigma, mu, y], upstream)

    assert_finite_and_close(g_rest, t_rest, dtype)  # sigma, mu, y
    # pi: the reference differentiates its formula as written (pi free); Categorical divides pi by
    # its row sums first, which projects that gradient: g - (g . pi) per row
    assert torch.isfinite(g_pi).all()
    assert_close(g_pi - (g_pi * pi).sum(-1, keepdim=True).detach(), t_pi, dtype)
    # ... and the free gradient is the formula's: -upstream / B * (posterior of component k) / pi_k
    with torch.no_grad():
        log_joint = torch.log(pi) + Normal(mu, sigma).log_prob(y)
        posterior = torch.softmax(log_joint, dim=-1)
        assert_close(g_pi, -upstream / B * posterior / pi, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("where", WHERE, ids=WHERE_IDS)
@pytest.mark.parametrize("B, K", [(1, 3), (4, 1), (6, 4)])
def test_loss_gradients_through_softmax_logits(B, K, where, dtype):
    """pi = softmax(logits), as an MDN makes it: the gradients w.r.t. the logits agree exactly."""
    seed("mdn_loss_logits", B, K, where, dtype)
    logits = 2 * torch.randn(B, K, dtype=dtype, requires_grad=True)
    _, sigma, mu = mixture(B, K, dtype, requires_grad=True)
    y = targets(sigma, mu, where, requires_grad=True)
    upstream = torch.randn((), dtype=dtype)
    pi = torch.softmax(logits, dim=-1)

    g_ref = grads(mdn.mdn_loss(pi, sigma, mu, y), [logits, sigma, mu, y], upstream)
    g_torch = grads(torch_nll(None, sigma, mu, y, logits=logits), [logits, sigma, mu, y], upstream)
    assert_finite_and_close(g_ref, g_torch, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_loss_of_one_component_is_the_gaussian_nll(dtype):
    seed("mdn_loss_one", dtype)
    B = 7
    pi, sigma, mu = mixture(B, 1, dtype)
    y = targets(sigma, mu, "near")
    expected = F.gaussian_nll_loss(mu, y, sigma**2, full=True, reduction="mean")
    assert_close(mdn.mdn_loss(pi, sigma, mu, y), expected, dtype)


# --------------------------------------------------------------------------------------------
# MDN
# --------------------------------------------------------------------------------------------

# (B, in_features, n_hidden, n_gaussians)
MDN_SHAPES = [(1, 1, 1, 1), (1, 3, 4, 5), (4, 2, 8, 1), (6, 5, 16, 3), (10, 1, 3, 7)]


def functional_mdn(model, x):
    """The MDN written with torch.nn.functional on the module's own parameters."""
    (lin_h, _tanh), p = model.z_h, dict(model.named_parameters())
    h = torch.tanh(F.linear(x, lin_h.weight, lin_h.bias))
    pi = F.softmax(F.linear(h, p["z_pi.weight"], p["z_pi.bias"]), dim=-1)
    sigma = torch.exp(F.linear(h, p["z_sigma.weight"], p["z_sigma.bias"]))
    mu = F.linear(h, p["z_mu.weight"], p["z_mu.bias"])
    return pi, sigma, mu


@pytest.mark.parametrize("in_features, n_hidden, K", [(3, 8, 5), (1, 1, 1)])
def test_mdn_layout(in_features, n_hidden, K):
    model = mdn.MDN(in_features, n_hidden, K)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "z_h.0.weight": (n_hidden, in_features), "z_h.0.bias": (n_hidden,),
        "z_pi.weight": (K, n_hidden), "z_pi.bias": (K,),
        "z_sigma.weight": (K, n_hidden), "z_sigma.bias": (K,),
        "z_mu.weight": (K, n_hidden), "z_mu.bias": (K,),
    }
    assert isinstance(model.z_h[1], torch.nn.Tanh)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("B, in_features, n_hidden, K", MDN_SHAPES)
def test_mdn_forward(B, in_features, n_hidden, K, dtype):
    seed("mdn", B, in_features, n_hidden, K, dtype)
    model = mdn.MDN(in_features, n_hidden, K).to(dtype)
    x = 2 * torch.randn(B, in_features, dtype=dtype)
    copies = snapshot(x)

    with torch.no_grad():
        out = model(x)
        expected = functional_mdn(model, x)

    assert isinstance(out, tuple) and len(out) == 3
    for got, want in zip(out, expected, strict=True):
        assert got.shape == (B, K)
        assert_close(got, want, dtype)
    pi, sigma, _ = out
    assert (pi > 0).all() and (sigma > 0).all()
    assert_close(pi.sum(-1), torch.ones(B, dtype=dtype), dtype)
    assert_unchanged([x], copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("where", ["near", (100, 1)], ids=["near", "100sd_above"])
@pytest.mark.parametrize("B, in_features, n_hidden, K", MDN_SHAPES)
def test_mdn_and_loss_gradients_end_to_end(B, in_features, n_hidden, K, where, dtype):
    """loss(MDN(x), y) against the built-in mixture on the same heads (Categorical from the pi
    logits): gradients w.r.t. x, y and every parameter."""
    seed("mdn_end_to_end", B, in_features, n_hidden, K, where, dtype)
    model = mdn.MDN(in_features, n_hidden, K).to(dtype)
    x = torch.randn(B, in_features, dtype=dtype, requires_grad=True)
    with torch.no_grad():
        _, sigma0, mu0 = model(x)
    y = targets(sigma0, mu0, where, requires_grad=True)
    upstream = torch.randn((), dtype=dtype)
    wrt = [x, y] + [p for _, p in sorted(model.named_parameters())]

    loss = mdn.mdn_loss(*model(x), y)
    h = model.z_h(x)
    loss_t = torch_nll(None, torch.exp(model.z_sigma(h)), model.z_mu(h), y, logits=model.z_pi(h))

    assert_close(loss, loss_t, dtype)
    assert_finite_and_close(grads(loss, wrt, upstream), grads(loss_t, wrt, upstream), dtype)
