"""mdn, torch.distributions style: Normal(mu, sigma).log_prob(y) + log(pi) (pi used as given, no Categorical), torch.logsumexp; pi = exp(log_softmax)."""
import torch
import torch.nn as nn
from torch.distributions import Normal


class MDN(nn.Module):
    def __init__(self, in_features: int, n_hidden: int, n_gaussians: int) -> None:
        super().__init__()
        self.z_h = nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x):
        hidden = self.z_h(x)
        pi = torch.log_softmax(self.z_pi(hidden), dim=-1).exp()
        sigma = self.z_sigma(hidden).exp()
        mu = self.z_mu(hidden)
        return pi, sigma, mu


def mdn_loss(pi, sigma, mu, y):
    components = Normal(loc=mu, scale=sigma)
    log_joint = pi.log() + components.log_prob(y)  # y [B, 1] broadcasts over the K components
    return -log_joint.logsumexp(dim=-1).mean()
