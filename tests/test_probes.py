"""``dlgrade.probes``: probes become the same concrete requests every time."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from dlgrade.probes import Probe, materialize, randn


class Scaled(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        return self.norm(self.lin(x))


REFERENCE = {"Scaled": Scaled, "double": lambda x: 2 * x}


def probe(**extra) -> Probe:
    return Probe("Scaled", (randn(2, 3),), init=dict(d=3), seed=4, **extra)


def test_params_replace_the_initial_values_and_nothing_else():
    plain = materialize(probe(), REFERENCE)
    given = materialize(probe(params={"norm.weight": randn(3), "norm.bias": torch.tensor([1.0, 2.0, 3.0])}),
                        REFERENCE)
    assert torch.equal(plain["state_dict"]["norm.weight"], torch.ones(3))
    assert not torch.equal(given["state_dict"]["norm.weight"], torch.ones(3))
    assert torch.equal(given["state_dict"]["norm.bias"], torch.tensor([1.0, 2.0, 3.0]))
    # the inputs and the other parameters are drawn as without params
    assert torch.equal(plain["args"][0], given["args"][0])
    for name in ("lin.weight", "lin.bias"):
        assert torch.equal(plain["state_dict"][name], given["state_dict"][name])
    # drawn from the probe's seed: the same probe gives the same request
    again = materialize(probe(params={"norm.weight": randn(3), "norm.bias": torch.tensor([1.0, 2.0, 3.0])}),
                        REFERENCE)
    assert torch.equal(again["state_dict"]["norm.weight"], given["state_dict"]["norm.weight"])


def test_params_take_the_probe_dtype():
    request = materialize(probe(dtype="float64", params={"norm.weight": randn(3)}), REFERENCE)
    assert all(t.dtype == torch.float64 for t in request["state_dict"].values())


@pytest.mark.parametrize("params, message", [
    ({"norm.scale": randn(3)}, "no parameter norm.scale"),
    ({"norm.weight": randn(4)}, r"no parameter norm.weight of shape \[4\]"),
])
def test_params_must_name_an_existing_parameter_of_its_shape(params, message):
    with pytest.raises(ValueError, match=message):
        materialize(probe(params=params), REFERENCE)


def test_params_are_for_modules_only():
    with pytest.raises(ValueError, match="which is a function"):
        materialize(Probe("double", (randn(2),), params={"w": randn(1)}), REFERENCE)
