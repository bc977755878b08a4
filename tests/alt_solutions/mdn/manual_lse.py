"""mdn, hand-written log-sum-exp style: subtract the (detached) row max before exp/sum/log; a hand-written stable softmax for pi."""
import math

import torch
import torch.nn as nn

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class MDN(nn.Module):
    def __init__(self, in_features: int, n_hidden: int, n_gaussians: int) -> None:
        super().__init__()
        self.z_h = nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x):
        h = self.z_h(x)
        logits = self.z_pi(h)
        e = torch.exp(logits - logits.max(dim=1, keepdim=True)[0])
        pi = e / e.sum(dim=1, keepdim=True)
        sigma = torch.exp(self.z_sigma(h))
        mu = self.z_mu(h)
        return pi, sigma, mu


def mdn_loss(pi, sigma, mu, y):
    log_n = -((y - mu) ** 2) / (2 * sigma * sigma) - torch.log(sigma) - LOG_SQRT_2PI
    a = torch.log(pi) + log_n                              # [B, K]
    a_max = a.max(dim=1, keepdim=True)[0].detach()         # [B, 1]
    log_lik = a_max.squeeze(1) + torch.log(torch.sum(torch.exp(a - a_max), dim=1))
    return -log_lik.sum() / pi.shape[0]
