"""Assignment ``mdn``: a mixture density network and its negative log-likelihood loss.

A mixture density network (Bishop, 1994) predicts, for each input ``x``, a whole distribution
over a scalar target ``y``: a mixture of ``K`` Gaussians with weights ``pi``, standard deviations
``sigma`` and means ``mu``::

    p(y | x) = sum_k pi_k(x) * N(y; mu_k(x), sigma_k(x)^2)

Shapes use ``B`` for the batch size and ``K`` for ``n_gaussians``, the number of components.

``sigma`` is a standard deviation, not a variance. The loss must be computed in log space: when
``y`` lies far from every component, each density underflows to 0 and the log of their weighted
sum is ``-inf``, while the log-likelihood itself is finite.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MDN(nn.Module):
    r"""A mixture density network with one hidden layer.

    .. math::
        h = \tanh(W_h x + b_h) \\
        \pi = \operatorname{softmax}(W_\pi h + b_\pi) \\
        \sigma = \exp(W_\sigma h + b_\sigma) \\
        \mu = W_\mu h + b_\mu

    Args:
        in_features: number of features of the input ``x``.
        n_hidden: number of hidden units.
        n_gaussians: number ``K`` of mixture components.

    Attributes:
        z_h: ``nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh())``, the hidden layer.
        z_pi, z_sigma, z_mu: ``nn.Linear(n_hidden, n_gaussians)``, the heads giving the logits
            of ``pi``, the log of ``sigma`` and ``mu``.
    """

    def __init__(self, in_features: int, n_hidden: int, n_gaussians: int) -> None:
        super().__init__()
        self.z_h = nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The mixture's parameters for each input.

        Args:
            x: ``[B, in_features]``.

        Returns:
            ``(pi, sigma, mu)``, each ``[B, K]``: ``pi`` are the mixture weights (positive, each
            row sums to 1 over the components), ``sigma`` the standard deviations (positive),
            ``mu`` the means.
        """
        # TODO: h = z_h(x), a [B, n_hidden] tensor (z_h already holds the tanh).
        # TODO: pi = softmax of z_pi(h) over the components (the last dimension, not the batch),
        #       sigma = exp of z_sigma(h) (so it is positive), mu = z_mu(h) as it is.
        # TODO: return (pi, sigma, mu), in this order.
        hidden = self.z_h(x)
        weights = F.softmax(self.z_pi(hidden), dim=1)
        stds = self.z_sigma(hidden).exp()
        means = self.z_mu(hidden)
        return weights, stds, means


def mdn_loss(pi: torch.Tensor, sigma: torch.Tensor, mu: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The mean negative log-likelihood of ``y`` under the mixtures.

    .. math::
        \log \mathcal{N}(y; \mu_k, \sigma_k^2) = -\frac{(y - \mu_k)^2}{2 \sigma_k^2}
            - \log \sigma_k - \frac{1}{2} \log(2 \pi) \\
        \mathrm{loss} = -\frac{1}{B} \sum_b \log \sum_k \pi_{bk}
            \, \mathcal{N}(y_b; \mu_{bk}, \sigma_{bk}^2)

    The log of the sum is computed with log-sum-exp, so the loss stays finite and accurate when
    ``y`` lies many standard deviations away from every mean (where each density is 0 in
    floating point). ``pi`` is used as given (it is not renormalized): the gradient w.r.t.
    ``pi`` is the gradient of this formula.

    Args:
        pi: ``[B, K]``, mixture weights (positive, each row sums to 1).
        sigma: ``[B, K]``, standard deviations (positive).
        mu: ``[B, K]``, means.
        y: ``[B, 1]``, one target per row (it broadcasts against the ``K`` components).

    Returns:
        The loss, a scalar tensor (shape ``[]``).
    """
    # TODO: the log-density of y under every component, a [B, K] tensor:
    #       -(y - mu)^2 / (2 sigma^2) - log(sigma) - log(2 pi) / 2  (y [B, 1] broadcasts).
    # TODO: the log-likelihood of each row is log(sum_k pi_k N_k), computed stably as
    #       torch.logsumexp(log(pi) + log-density, dim=-1), a [B] tensor; never take the log of
    #       a sum of densities (it is log(0) = -inf when y is far from every component).
    # TODO: return minus the mean over the batch (a scalar tensor, shape []).
    # log N(y | mu, sigma^2) for every component
    var = sigma.pow(2)
    log_n = -(y - mu).pow(2) / (2 * var) - 0.5 * torch.log(2 * math.pi * var)
    # log sum_k pi_k N_k without leaving log space
    ll = torch.logsumexp(pi.log() + log_n, dim=1)
    return -ll.mean()
