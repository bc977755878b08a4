"""Catalogue of known mistakes for ``mdn``: each is an edit of ``solutions/mdn.py``."""
from dlgrade.authoring.mistakes import Mistake

_LSE = "torch.logsumexp(torch.log(pi) + log_density, dim=-1)"
_RETURN = "return -log_likelihood.mean()"

MISTAKES = [
    # MDN.forward
    Mistake("softmax_over_batch",
            "pi looks like a softmax over the batch; take it over the components (the last dimension), "
            "so each row of pi sums to 1.",
            (("torch.softmax(self.z_pi(h), dim=-1)", "torch.softmax(self.z_pi(h), dim=0)"),)),
    Mistake("sigma_not_exp",
            "sigma looks like z_sigma(h) as it is; take its exp, so every standard deviation is positive.",
            (("sigma = torch.exp(self.z_sigma(h))", "sigma = self.z_sigma(h)"),)),
    Mistake("mu_sigma_swapped",
            "sigma and mu look swapped: return (pi, sigma, mu) in this order.",
            (("return pi, sigma, mu", "return pi, mu, sigma"),)),
    Mistake("hidden_tanh_twice",
            "the hidden layer looks like tanh(tanh(...)): z_h already ends with nn.Tanh, so use z_h(x) as it is.",
            (("h = self.z_h(x)", "h = torch.tanh(self.z_h(x))"),)),
    # mdn_loss
    Mistake("sum_of_log_densities",
            "the loss looks like the sum of log(pi_k) + log N_k over the components; the likelihood is "
            "the log of the weighted sum, log(sum_k pi_k N_k): use torch.logsumexp over the components.",
            ((_LSE, "(torch.log(pi) + log_density).sum(dim=-1)"),)),
    Mistake("sigma_as_variance",
            "sigma looks used as a variance (divided by sigma, log(sigma) / 2); it is a standard deviation: "
            "the log-density is -(y - mu)^2 / (2 sigma^2) - log(sigma) - log(2 pi) / 2.",
            (("z = (y - mu) / sigma", "z = (y - mu) / torch.sqrt(sigma)"),
             ("- torch.log(sigma) -", "- 0.5 * torch.log(sigma) -"))),
    Mistake("weights_ignored",
            "the mixture weights pi seem left out: add log(pi) to every component's log-density before "
            "the log-sum-exp.",
            ((_LSE, "torch.logsumexp(log_density, dim=-1)"),)),
    Mistake("logsumexp_over_batch",
            "the log-sum-exp seems taken over the batch; take it over the components (the last dimension), "
            "then average over the batch.",
            ((_LSE, "torch.logsumexp(torch.log(pi) + log_density, dim=0)"),)),
    Mistake("unstable_log_of_sum",
            "the loss is inf (or its gradient NaN) when y is far from every component: log(sum_k pi_k N_k) "
            "underflows to log(0); compute torch.logsumexp(log(pi) + log N_k) instead.",
            ((_LSE, "torch.log((pi * torch.exp(log_density)).sum(dim=-1))"),)),
    Mistake("variance_as_std",
            "the density looks computed with the variance sigma^2 as its standard deviation (as in "
            "Normal(mu, sigma**2)); sigma is the standard deviation: divide (y - mu) by sigma and "
            "subtract log(sigma).",
            (("z = (y - mu) / sigma", "z = (y - mu) / sigma**2"),
             ("- torch.log(sigma) -", "- torch.log(sigma**2) -"))),
    Mistake("no_normalizing_constant",
            "the loss looks off by log(2 pi) / 2 = 0.919: the Gaussian log-density has a "
            "-log(2 pi) / 2 term.",
            (("- 0.5 * math.log(2 * math.pi)", ""),)),
    Mistake("sum_over_batch",
            "the loss looks summed over the batch; take the mean over the batch.",
            ((_RETURN, "return -log_likelihood.sum()"),)),
    Mistake("log_likelihood_not_negated",
            "the loss looks like the log-likelihood itself; return its negative (minus the mean).",
            ((_RETURN, "return log_likelihood.mean()"),)),
    Mistake("pi_renormalized",
            "the loss is right but its gradient w.r.t. pi is off by the same amount in every entry: pi "
            "looks renormalized (as torch.distributions.Categorical does); use torch.log(pi) as given.",
            (("torch.log(pi) + log_density", "torch.log(pi / pi.sum(dim=-1, keepdim=True)) + log_density"),)),
]

# Inputs modified in place (a common habit: /=, +=, a method ending in _ on an argument): the
# outputs stay right; the public "does not modify ... in place" check fails and shows the hint.
IN_PLACE_MISTAKES = [
    Mistake("sigma_log_in_place",
            "sigma looks modified in place (sigma.log_()): that overwrites the caller's standard deviations "
            "with their logs. Use torch.log(sigma), which returns a new tensor; never call a method ending "
            "in _ on an input.",
            (("- torch.log(sigma) -", "- sigma.log_() -"),)),
]

MISTAKES += IN_PLACE_MISTAKES
