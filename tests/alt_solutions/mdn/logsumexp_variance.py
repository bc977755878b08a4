"""mdn, log-variance style: log N = -0.5 * (log(2 pi sigma^2) + (y - mu)^2 / sigma^2), then torch.logsumexp over the components."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MDN(nn.Module):
    def __init__(self, in_features: int, n_hidden: int, n_gaussians: int) -> None:
        super().__init__()
        self.z_h = nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x):
        z_h = self.z_h(x)
        pi = F.softmax(self.z_pi(z_h), dim=1)
        sigma = torch.exp(self.z_sigma(z_h))
        mu = self.z_mu(z_h)
        return pi, sigma, mu


def mdn_loss(pi, sigma, mu, y):
    var = sigma ** 2
    log_prob = -0.5 * (torch.log(2 * math.pi * var) + (y - mu) ** 2 / var)   # [B, K]
    log_mix = torch.logsumexp(torch.log(pi) + log_prob, dim=1)                # [B]
    return -torch.mean(log_mix)
