"""mdn, per-component style: the mixture's log-likelihood accumulated with torch.logaddexp, one Python step per component column (unbind)."""
import math

import torch
import torch.nn as nn


class MDN(nn.Module):
    def __init__(self, in_features: int, n_hidden: int, n_gaussians: int) -> None:
        super().__init__()
        self.z_h = nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x):
        z = self.z_h(x)
        return nn.functional.softmax(self.z_pi(z), dim=-1), self.z_sigma(z).exp(), self.z_mu(z)


def mdn_loss(pi, sigma, mu, y):
    y = y.squeeze(-1)                                              # [B]
    total = None
    for pi_k, sigma_k, mu_k in zip(pi.unbind(1), sigma.unbind(1), mu.unbind(1)):
        log_term = (torch.log(pi_k) - torch.log(sigma_k) - 0.5 * math.log(2 * math.pi)
                    - 0.5 * torch.square((y - mu_k) / sigma_k))
        total = log_term if total is None else torch.logaddexp(total, log_term)
    return -total.mean()
