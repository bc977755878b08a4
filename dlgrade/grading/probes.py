"""Declarative descriptions of what a grader calls, turned into concrete requests.

A :class:`Probe` names the target, its constructor arguments and its inputs (random tensors by
shape, masks as literal tensors). :func:`materialize` makes it concrete and deterministic: the
parameters come from the reference module built under ``torch.manual_seed(seed)`` and the
random inputs from a generator seeded with ``seed``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from dlgrade.exposed import wire
from dlgrade.exposed.execute import DTYPES

TRANSFORMS = {
    "softmax": lambda t: torch.softmax(t, dim=-1),  # rows on the simplex: positive, summing to 1
    "exp": torch.exp,  # positive
}


@dataclass(frozen=True)
class Randn:
    """A standard-normal tensor of ``shape``, drawn when the probe is materialized.

    The draw is multiplied by ``scale``, then ``shift`` is added, then ``transform`` (a name in
    :data:`TRANSFORMS`, or ``None``) is applied: ``"softmax"`` over the last dimension gives
    mixture weights or probabilities, ``"exp"`` a positive tensor (standard deviations).
    """

    shape: tuple[int, ...]
    scale: float = 1.0
    shift: float = 0.0
    transform: str | None = None

    def __post_init__(self) -> None:
        if self.transform is not None and self.transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {self.transform!r} (known: {', '.join(TRANSFORMS)})")

    def draw(self, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
        value = torch.randn(self.shape, generator=generator, dtype=dtype) * self.scale
        if self.shift:
            value = value + self.shift
        if self.transform is not None:
            value = TRANSFORMS[self.transform](value)
        return value


def randn(*shape: int, scale: float = 1.0, shift: float = 0.0, transform: str | None = None) -> Randn:
    """A random input of the given shape (in the probe's dtype): ``N(0, 1) * scale + shift``,
    then ``transform`` (``"softmax"`` over the last dimension, ``"exp"``) if given."""
    return Randn(tuple(shape), scale, shift, transform)


def causal_mask(n: int, as_int: bool = False) -> torch.Tensor:
    """``[n, n]`` lower-triangular mask: query i may attend to keys 0..i."""
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    return mask.long() if as_int else mask


def padding_mask(lengths: list[int], n_K: int, as_int: bool = False) -> torch.Tensor:
    """``[B, 1, 1, n_K]`` mask allowing the first ``lengths[b]`` keys of batch element ``b``."""
    mask = torch.arange(n_K)[None, :] < torch.tensor(lengths)[:, None]
    mask = mask[:, None, None, :]
    return mask.long() if as_int else mask


@dataclass(frozen=True)
class Probe:
    """One call of a student's function or module method.

    Args:
        target: top-level name in the student's module (``"LSTMCell"``).
        args, kwargs: inputs; :class:`Randn` leaves become random tensors.
        init: constructor keyword arguments; ``None`` means ``target`` is a function.
        dtype: ``"float32"`` or ``"float64"`` for the parameters and random inputs.
        seed: seeds the parameters and the inputs.
        arg_names, out_names: labels used in feedback (``("x", "state")``, ``("h_next", "c_next")``).
        params: values for some of the module's parameters or buffers, by ``state_dict`` name,
            replacing the reference's initial ones (e.g. a LayerNorm's weight, which starts as all
            ones); :class:`Randn` leaves are drawn after the inputs.
    """

    target: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    init: Mapping[str, Any] | None = None
    dtype: str = "float32"
    seed: int = 0
    method: str = "forward"
    arg_names: tuple[str, ...] = ()
    out_names: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)


def _draw(value: Any, generator: torch.Generator, dtype: torch.dtype) -> Any:
    if isinstance(value, Randn):
        return value.draw(generator, dtype)
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_draw(v, generator, dtype) for v in value)
    if isinstance(value, list):
        return [_draw(v, generator, dtype) for v in value]
    if isinstance(value, Mapping):
        return {k: _draw(v, generator, dtype) for k, v in value.items()}
    return value


def materialize(probe: Probe, reference: Mapping[str, Any]) -> wire.CallRequest:
    """The concrete request for ``probe``; ``reference`` is the reference module's namespace."""
    dtype = DTYPES[probe.dtype]
    generator = torch.Generator().manual_seed(probe.seed)
    request: wire.CallRequest = {
        "op": wire.Op.CALL, "target": probe.target, "dtype": probe.dtype, "method": probe.method,
        "init": dict(probe.init) if probe.init is not None else None, "state_dict": None,
        "args": list(_draw(tuple(probe.args), generator, dtype)),
        "kwargs": _draw(dict(probe.kwargs), generator, dtype),
        "grad_outputs": None,
        "labels": {"args": list(probe.arg_names), "out": probe.out_names},
    }
    if probe.init is not None:
        torch.default_generator.manual_seed(probe.seed)
        module = reference[probe.target](**probe.init)
        state = {k: v.detach().to(dtype).clone() for k, v in module.state_dict().items()}
        for name, value in _draw(dict(probe.params), generator, dtype).items():
            value = torch.as_tensor(value, dtype=dtype)
            if name not in state or state[name].shape != value.shape:
                raise ValueError(f"{probe.target} has no parameter {name} of shape {list(value.shape)}")
            state[name] = value
        request["state_dict"] = state
    elif probe.params:
        raise ValueError(f"params given for {probe.target}, which is a function")
    return request


def grad_outputs_for(out: Any, seed: int) -> Any:
    """Random upstream gradients shaped like the floating-point tensors of ``out``."""
    generator = torch.Generator().manual_seed(seed + 7919)

    def draw(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return torch.randn(value.shape, generator=generator, dtype=value.dtype)
        if isinstance(value, (tuple, list)):
            return type(value)(draw(v) for v in value)
        return value

    return draw(out)
