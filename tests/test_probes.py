"""``dlgrade.grading.probes``: random inputs by shape, their optional shift and transform, parameters a
grader sets, and probes as cache keys (frozen, hashable, picklable): probes become the same
concrete requests every time."""
from __future__ import annotations

import dataclasses
import hashlib
import pickle

import pytest
import torch
import torch.nn as nn

from dlgrade.grading.probes import Probe, Randn, materialize, randn


def plain_draws(seed: int, shapes, dtype, scales=None):
    """What ``materialize`` drew before shifts and transforms existed: ``randn * scale`` in turn."""
    generator = torch.Generator().manual_seed(seed)
    scales = scales or [1.0] * len(shapes)
    return [torch.randn(shape, generator=generator, dtype=dtype) * scale for shape, scale in zip(shapes, scales)]


def args_of(probe: Probe) -> list[torch.Tensor]:
    return materialize(probe, {})["args"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_default_draws_are_unchanged_bit_for_bit(dtype):
    # the committed public checks of every assignment were recorded with these draws
    probe = Probe("f", (randn(3, 4), randn(2, scale=0.5), randn(1, 5, 2, scale=3.0)), dtype=dtype, seed=11)
    expected = plain_draws(11, [(3, 4), (2,), (1, 5, 2)], getattr(torch, dtype), [1.0, 0.5, 3.0])
    for got, want in zip(args_of(probe), expected, strict=True):
        assert got.dtype == want.dtype
        assert got.numpy().tobytes() == want.numpy().tobytes()


def test_randn_keeps_its_old_positional_form():
    assert randn(2, 3) == Randn((2, 3)) == Randn((2, 3), 1.0, 0.0, None)
    assert randn(2, scale=2.0) == Randn((2,), 2.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shift_is_added_after_scaling(dtype):
    probe = Probe("f", (randn(4, 3, scale=2.0, shift=-100.0),), dtype=str(dtype).removeprefix("torch."), seed=3)
    (got,) = args_of(probe)
    (plain,) = plain_draws(3, [(4, 3)], dtype, [2.0])
    assert torch.equal(got, plain + (-100.0))
    assert (got < -80).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_transform_puts_rows_on_the_simplex(dtype):
    probe = Probe("f", (randn(5, 4, scale=2.0, transform="softmax"),), dtype=str(dtype).removeprefix("torch."),
                  seed=4)
    (got,) = args_of(probe)
    (plain,) = plain_draws(4, [(5, 4)], dtype, [2.0])
    assert got.dtype == dtype and got.shape == (5, 4)
    assert torch.equal(got, torch.softmax(plain, dim=-1))
    assert (got > 0).all()
    torch.testing.assert_close(got.sum(-1), torch.ones(5, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exp_transform_is_positive_and_applied_after_the_shift(dtype):
    probe = Probe("f", (randn(3, 2, scale=0.5, shift=1.0, transform="exp"),), dtype=str(dtype).removeprefix("torch."),
                  seed=5)
    (got,) = args_of(probe)
    (plain,) = plain_draws(5, [(3, 2)], dtype, [0.5])
    assert torch.equal(got, torch.exp(plain + 1.0))
    assert (got > 0).all()


def test_transforms_consume_the_same_random_numbers():
    """A transform does not move the generator: the inputs after it are drawn as without it."""
    transformed = Probe("f", (randn(2, 3, transform="softmax"), randn(2, 3, transform="exp"), randn(4)), seed=6)
    plain = Probe("f", (randn(2, 3), randn(2, 3), randn(4)), seed=6)
    assert torch.equal(args_of(transformed)[2], args_of(plain)[2])


def test_transforms_reach_nested_arguments_and_kwargs():
    probe = Probe("f", ((randn(2, 2, transform="softmax"),),), kwargs={"s": randn(3, transform="exp")}, seed=7)
    request = materialize(probe, {})
    assert torch.allclose(request["args"][0][0].sum(-1), torch.ones(2))
    assert (request["kwargs"]["s"] > 0).all()


def test_unknown_transform_is_rejected():
    with pytest.raises(ValueError, match="unknown transform 'log'"):
        randn(2, transform="log")


def test_probes_with_transforms_are_frozen_hashable_and_picklable():
    def make():
        return Probe("mdn_loss", (randn(3, 2, transform="softmax"), randn(3, 2, scale=0.3, transform="exp"),
                                  randn(3, 2), randn(3, 1, shift=150.0)), dtype="float64", seed=8)

    probe = make()
    assert probe == make()
    assert probe != Probe("mdn_loss", (randn(3, 2, transform="exp"),) + probe.args[1:], dtype="float64", seed=8)
    # the inputs are hashable values (a Probe's kwargs and init are mappings, so hash its args)
    assert hash(probe.args) == hash(make().args) and len({probe.args, make().args}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        probe.args[0].transform = "exp"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(probe)) == probe
    # the reference's cache key is a hash of the pickled probe: equal probes, equal keys
    key = lambda p: hashlib.sha256(pickle.dumps((p, False))).hexdigest()  # noqa: E731
    assert key(probe) == key(make())
    assert key(probe) != key(Probe("mdn_loss", probe.args[:3] + (randn(3, 1, shift=-150.0),), dtype="float64",
                                   seed=8))


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
