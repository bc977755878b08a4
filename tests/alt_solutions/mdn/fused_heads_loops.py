"""mdn, fused/loop style: the three heads as one F.linear of torch.cat weights, split with torch.split; the loss loops over the batch into a zeros buffer."""
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
        hidden_layer = self.z_h[0]
        h = torch.tanh(F.linear(x, hidden_layer.weight, hidden_layer.bias))
        heads = (self.z_pi, self.z_sigma, self.z_mu)
        weight = torch.cat([head.weight for head in heads], dim=0)    # [3K, n_hidden]
        bias = torch.cat([head.bias for head in heads], dim=0)
        logits, log_sigma, mu = torch.split(F.linear(h, weight, bias), self.z_pi.out_features, dim=1)
        return torch.softmax(logits, dim=1), torch.exp(log_sigma), mu


def mdn_loss(pi, sigma, mu, y):
    B = pi.shape[0]
    log_lik = torch.zeros(B, dtype=pi.dtype, device=pi.device)
    for b in range(B):
        z = (y[b] - mu[b]) / sigma[b]                                    # [K]
        terms = torch.log(pi[b]) - 0.5 * z * z - torch.log(sigma[b]) - 0.5 * math.log(2 * math.pi)
        log_lik[b] = torch.logsumexp(terms, dim=0)
    return -log_lik.mean()
