"""Assignment ``mdn``: what students see about it and what they may not use."""
import torch

from dlgrade.authoring.registry import Question
from dlgrade.grading.factors import Batch, Call, Classified, DType, Signature

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


def _components(call: Call) -> str | None:
    K = call.init["n_gaussians"] if call.init else call.get("pi").shape[-1]
    return "1" if K == 1 else ">1"


def _far(call: Call) -> str:
    """Whether some target lies many standard deviations away from every mean."""
    z = ((call.get("y") - call.get("mu")) / call.get("sigma")).abs().amin(-1)
    return "far" if bool((z > 8).any()) else "near"


def _on_the_simplex(call: Call) -> Call:
    """The call with ``pi``'s rows summing to 1 in its dtype (a cast can break that)."""
    pi = call.get("pi")
    return call.with_args(pi=pi / pi.sum(-1, keepdim=True))


def _well_conditioned(call: Call) -> bool:
    """Gradients far out in the tails are compared in float64 only (in float32 they depend on
    rounding where two components compete)."""
    return call.dtype == "float64" or call.request.get("grad_outputs") is None or _far(call) == "near"


# the input forms each docstring allows (dlgrade.grading.factors): graders exercise every one,
# and a failing check is re-asked with one of them changed at a time to say what it depends on
FORMS = [
    Signature("MDN", (DType(), Batch(), Classified("components", ("1", ">1"), _components)), core={"x": 1}),
    Signature("mdn_loss", (DType(), Batch(), Classified("components", ("1", ">1"), _components),
                           Classified("far", ("near", "far"), _far)),
              core={"pi": 1, "sigma": 1, "mu": 1, "y": 1}, restore=_on_the_simplex,
              admits=_well_conditioned),
]
