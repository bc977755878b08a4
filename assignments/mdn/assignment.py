"""Assignment ``mdn``: what students see about it and what they may not use."""
from dlgrade.authoring.registry import Question

TITLE = "Mixture density networks: an MDN and its negative log-likelihood"

INTRO = """\
In this assignment you implement a **mixture density network** (MDN): a network that predicts, for
each input `x`, a mixture of `K` Gaussians over a scalar target `y`, with weights `pi`, standard
deviations `sigma` and means `mu`, each `[B, K]`. Then you write its loss, the mean **negative
log-likelihood** of the targets under the predicted mixtures.

The loss must be **numerically stable**: when `y` is far from every component, each Gaussian
density underflows to 0 in floating point and `log(sum_k pi_k N_k)` becomes `-inf`. Work in log
space and combine the components with `torch.logsumexp`. The graders try targets 50 to 200
standard deviations away from every mean.

Fill in every body that raises `NotImplementedError`; leave the given `__init__` as it is. After
each part, run its check cell: it tells you which checks pass and, when one fails, what was
called, what was expected and what came back.
"""

QUESTIONS = [
    Question("MDN", "1. The mixture density network",
             "Implement `MDN.forward(x)`: the hidden layer `z_h`, then `pi` = softmax of `z_pi` over the "
             "components, `sigma` = exp of `z_sigma`, `mu` = `z_mu`. Return `(pi, sigma, mu)`, each "
             "`[B, n_gaussians]`."),
    Question("mdn_loss", "2. The negative log-likelihood",
             "Implement `mdn_loss(pi, sigma, mu, y)`: the Gaussian log-density of `y` `[B, 1]` under every "
             "component, `torch.logsumexp` of `log(pi)` plus it over the components, and minus the mean "
             "over the batch, a scalar. It must stay finite when `y` is far from every component."),
]

# Nothing is forbidden. The only built-ins that compute the whole loss, torch.distributions'
# MixtureSameFamily / Normal / Categorical, are Python classes made of ordinary ops (logsumexp,
# log_softmax, ...), so no torch function name tells them apart; and torch.logsumexp is the very
# tool the loss should use. A loss built on Categorical(probs=pi) renormalizes pi: its gradient
# w.r.t. pi differs from the formula's, which the catalogue's `pi_renormalized` hint explains.
FORBIDDEN: dict[str, str] = {}
