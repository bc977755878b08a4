"""The input forms a target's docstring allows, one *factor* at a time, on concrete requests.

A :class:`Factor` is one documented way the calls of a target can differ: the dtype, the number
of leading dimensions, the batch size, whether a mask is given and as what, the mask's shape, an
optional state, a constructor flag such as ``bias``, the parity of a size... Each factor says
which *form* a request has (:meth:`Factor.form`: ``"float64"``, ``"0/1"``, ``"[B,1,1,n_K]"``) and,
where it can, makes the same request with that one factor changed (:meth:`Factor.variants`).
An assignment lists its targets' factors (``FORMS`` in ``assignments/<name>/assignment.py``, a
:class:`Signature` each). Two things use them:

- a test requires, for every factor, a grader probe of each of its :attr:`Factor.forms`
  (every documented form is exercised);
- the factor diagnosis (:mod:`dlgrade.grading.diagnosis`): on a failing check it re-asks the call
  with one factor changed at a time and reports the factors whose change flips the verdict.

Everything here works on the requests themselves (plain data, :mod:`dlgrade.exposed.wire`) and
returns new ones; a request is never modified. A variant whose constructor arguments changed
needs new parameters: it is marked (:attr:`Call.rebuild`) and the oracle makes them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from dlgrade.exposed.execute import DTYPES, leaves, map_tensors


# -- a request, read and rewritten by argument name -------------------------------------------------
class Call:
    """A call request seen through its arguments' names (the probe's ``labels``)."""

    def __init__(self, request: dict, rebuild: bool = False) -> None:
        self.request = request
        self.rebuild = rebuild  # the constructor arguments changed: the parameters must be made anew

    @property
    def names(self) -> list[str]:
        return list((self.request.get("labels") or {}).get("args") or [])

    @property
    def init(self) -> dict:
        return dict(self.request.get("init") or {})

    @property
    def dtype(self) -> str:
        return str(self.request.get("dtype", "float32"))

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def get(self, name: str) -> Any:
        """The argument ``name`` (None when it is not given)."""
        args, names = self.request.get("args") or [], self.names
        if name in names and names.index(name) < len(args):
            return args[names.index(name)]
        return (self.request.get("kwargs") or {}).get(name)

    def with_args(self, **values: Any) -> Call:
        """The same call with these arguments replaced (a value of None drops a trailing one)."""
        args, kwargs = list(self.request.get("args") or []), dict(self.request.get("kwargs") or {})
        names = self.names
        for name, value in values.items():
            if name in names and names.index(name) < len(args):
                args[names.index(name)] = value
            elif value is not None:
                kwargs[name] = value
            else:
                kwargs.pop(name, None)
        while args and args[-1] is None and len(args) > 1:
            args.pop()  # a trailing optional argument left out, as a caller would
        return Call({**self.request, "args": args, "kwargs": kwargs}, self.rebuild)

    def with_request(self, **fields_: Any) -> Call:
        return Call({**self.request, **fields_}, self.rebuild)


# -- factors ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One documented way a target's calls differ. ``name`` keys its messages (``factor.<name>``)."""

    name: str
    forms: tuple[str, ...]

    def form(self, call: Call, signature: Signature) -> str | None:
        """Which of :attr:`forms` ``call`` has (None: the factor does not apply to it)."""
        raise NotImplementedError

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        """The same call with this factor changed: ``(its form, the call)``; none by default."""
        return iter(())


@dataclass(frozen=True)
class DType(Factor):
    """float32 or float64: the inputs' and the parameters' dtype."""

    name: str = "dtype"
    forms: tuple[str, ...] = ("float32", "float64")

    def form(self, call: Call, signature: Signature) -> str | None:
        request = call.request
        floating = any(t.is_floating_point()
                       for t in leaves([request.get("args"), request.get("kwargs"), request.get("state_dict")]))
        return call.dtype if floating else None

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        other = "float64" if call.dtype == "float32" else "float32"
        dtype = DTYPES[other]

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(dtype) if t.is_floating_point() else t

        request = call.request
        yield other, call.with_request(dtype=other, args=map_tensors(request.get("args") or [], cast),
                                       kwargs=map_tensors(request.get("kwargs") or {}, cast),
                                       state_dict=map_tensors(request.get("state_dict"), cast))


@dataclass(frozen=True)
class Leading(Factor):
    """How many leading dimensions come before the tensors' own (``core``) ones: ``"0"``, ``"1"``
    or ``"2+"``. ``signature.core`` says each argument's own number of dimensions; the first
    argument there sets the count."""

    name: str = "leading"
    forms: tuple[str, ...] = ("0", "1", "2+")

    def form(self, call: Call, signature: Signature) -> str | None:
        lead = signature.leading(call)
        return None if lead is None else ("0", "1", "2+")[min(lead, 2)]

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        lead = signature.leading(call)
        if lead is None:
            return
        shape = signature.leading_shape(call)
        for target in (0, 1, 2):
            if min(target, 2) == min(lead, 2):
                continue
            changed = {}
            for name, core in signature.core.items():
                value = call.get(name)
                if isinstance(value, torch.Tensor):
                    changed[name] = _with_leading(value, value.ndim - core, lead, shape, target)
            yield ("0", "1", "2+")[target], call.with_args(**changed)


def _with_leading(t: torch.Tensor, own: int, lead: int, shape: tuple[int, ...], target: int) -> torch.Tensor:
    """``t``, whose ``own`` leading dims line up with the last ``own`` of the call's leading
    ``shape`` (``lead`` dims), for a call with ``target`` leading dims: fewer take element 0 of
    every leading dim (none) or flatten them (one); more put dims of size 1 in front."""
    if target > lead:
        return t[(None,) * (target - lead)].clone() if own == lead else t
    if own <= 0:
        return t
    core = t.shape[own:]
    if target == 0:
        return t[(0,) * own].clone()
    return t.expand(*shape, *core).reshape(-1, *core).clone()


@dataclass(frozen=True)
class Batch(Factor):
    """The batch size (the first leading dimension): ``"1"`` or ``">1"``."""

    name: str = "batch"
    forms: tuple[str, ...] = ("1", ">1")

    def form(self, call: Call, signature: Signature) -> str | None:
        size = signature.batch_size(call)
        return None if size is None else ("1" if size == 1 else ">1")

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        size = signature.batch_size(call)
        if size is None:
            return
        lead = signature.leading(call) or 0

        def resize(t: torch.Tensor, core: int) -> torch.Tensor:
            if t.ndim != lead + core or t.shape[0] != size:  # broadcast along the batch: stays
                return t
            return t[:1].clone() if size > 1 else torch.cat([t, t.flip(-1)])

        changed = {}
        for name, core in signature.core.items():
            value = call.get(name)
            if value is not None:
                changed[name] = map_tensors(value, lambda t, c=core: resize(t, c))
        yield ("1" if size > 1 else ">1"), call.with_args(**changed)


@dataclass(frozen=True)
class MaskKind(Factor):
    """Whether the mask is given, and as bool or 0/1 integers."""

    name: str = "mask"
    forms: tuple[str, ...] = ("none", "bool", "0/1")
    arg: str = "mask"

    def form(self, call: Call, signature: Signature) -> str | None:
        mask = call.get(self.arg)
        return "none" if mask is None else ("bool" if mask.dtype == torch.bool else "0/1")

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        mask = call.get(self.arg)
        if mask is None:
            yield "bool", call.with_args(**{self.arg: torch.ones(signature.scores(call)[-2:], dtype=torch.bool)})
            return
        if mask.dtype == torch.bool:
            yield "0/1", call.with_args(**{self.arg: mask.long()})
        else:
            yield "bool", call.with_args(**{self.arg: mask != 0})
        yield "none", call.with_args(**{self.arg: None})


@dataclass(frozen=True)
class MaskShape(Factor):
    """The mask's shape against the scores', in the scores' dimension names (``[B,1,1,n_K]``):
    a dimension of size 1 where the scores' is larger is ``1``; leading dimensions of any number
    are ``…``. The variant is the same mask expanded to the scores' full shape, or, for a full
    one, the smallest shape it broadcasts from."""

    name: str = "mask_shape"
    forms: tuple[str, ...] = ()
    arg: str = "mask"

    def form(self, call: Call, signature: Signature) -> str | None:
        mask = call.get(self.arg)
        return None if mask is None else signature.mask_label(tuple(mask.shape), signature.scores(call))

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        mask = call.get(self.arg)
        if mask is None:
            return
        scores = signature.scores(call)
        if tuple(mask.shape) != tuple(scores):
            smaller = mask.expand(scores).clone()
        else:
            smaller = mask
            for dim in range(mask.ndim - 1):
                if smaller.shape[dim] > 1 and bool((smaller == smaller.narrow(dim, 0, 1)).all()):
                    smaller = smaller.narrow(dim, 0, 1)
            if smaller.shape == mask.shape:
                return
            smaller = smaller.clone()
        yield signature.mask_label(tuple(smaller.shape), scores), call.with_args(**{self.arg: smaller})


@dataclass(frozen=True)
class OptionalArg(Factor):
    """An optional argument (a state): given or None. ``zeros`` makes the value None stands for."""

    name: str = "state"
    forms: tuple[str, ...] = ("given", "None")
    arg: str = "state"
    zeros: Callable[[Call], Any] | None = None

    def form(self, call: Call, signature: Signature) -> str | None:
        return "given" if call.has(self.arg) else "None"

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        if call.has(self.arg):
            yield "None", call.with_args(**{self.arg: None})
        elif self.zeros is not None:
            dtype = DTYPES[call.dtype]
            yield "given", call.with_args(**{self.arg: map_tensors(self.zeros(call), lambda t: t.to(dtype))})


@dataclass(frozen=True)
class Flag(Factor):
    """A boolean constructor argument (``bias``): its form is ``"True"``/``"False"``."""

    name: str = "bias"
    forms: tuple[str, ...] = ("True", "False")
    default: bool = True

    def form(self, call: Call, signature: Signature) -> str | None:
        return str(bool(call.init.get(self.name, self.default)))

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        value = not call.init.get(self.name, self.default)
        yield str(value), Call({**call.request, "init": {**call.init, self.name: value}}, rebuild=True)


@dataclass(frozen=True)
class Setting(Factor):
    """A constructor argument with a default (``eps``): ``"default"`` or ``"other"``; the variant
    of either is the other (``other`` is the value tried instead of the default)."""

    name: str = "eps"
    forms: tuple[str, ...] = ("default", "other")
    default: float = 1e-5
    other: float = 1e-2

    def form(self, call: Call, signature: Signature) -> str | None:
        return "default" if call.init.get(self.name, self.default) == self.default else "other"

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        default = self.form(call, signature) == "default"
        yield ("other" if default else "default"), \
            Call({**call.request, "init": {**call.init, self.name: self.other if default else self.default}})


@dataclass(frozen=True)
class Parity(Factor):
    """An integer argument's parity (``d_model`` of the positional encoding); the variant adds 1."""

    name: str = "parity"
    forms: tuple[str, ...] = ("odd", "even")
    arg: str = "d_model"

    def form(self, call: Call, signature: Signature) -> str | None:
        value = call.get(self.arg) if call.has(self.arg) else call.init.get(self.arg)
        return None if not isinstance(value, int) else ("odd" if value % 2 else "even")

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        value = call.get(self.arg)
        if isinstance(value, int):  # an argument (a constructor's would need new parameters)
            yield ("even" if value % 2 else "odd"), call.with_args(**{self.arg: value + 1})


@dataclass(frozen=True)
class EqualSizes(Factor):
    """Whether two sizes are equal (``n_Q`` and ``n_K``): ``"equal"`` or ``"different"``. ``a`` and
    ``b`` map argument names to the dimension holding each size (``{"Q": -2, "mask": -2}``); the
    first of each is read. The variant of different sizes cuts the larger down to the smaller."""

    name: str = "n_Q_n_K"
    forms: tuple[str, ...] = ("equal", "different")
    a: Mapping[str, int] = field(default_factory=dict)
    b: Mapping[str, int] = field(default_factory=dict)

    def _size(self, call: Call, dims: Mapping[str, int]) -> int | None:
        name, dim = next(iter(dims.items()))
        value = call.get(name)
        return value.shape[dim] if isinstance(value, torch.Tensor) and value.ndim >= abs(dim) else None

    def form(self, call: Call, signature: Signature) -> str | None:
        a, b = self._size(call, self.a), self._size(call, self.b)
        return None if a is None or b is None else ("equal" if a == b else "different")

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        a, b = self._size(call, self.a), self._size(call, self.b)
        if a is None or b is None or a == b:
            return
        larger, size = (self.a, a) if a > b else (self.b, b)
        changed: dict[str, torch.Tensor] = {}
        for name, dim in larger.items():
            value = changed.get(name, call.get(name))
            if isinstance(value, torch.Tensor) and value.ndim >= abs(dim) and value.shape[dim] == size:
                changed[name] = value.narrow(dim, 0, min(a, b)).clone()
        yield "equal", call.with_args(**changed)


@dataclass(frozen=True)
class SizeOne(Factor):
    """Whether a size is 1 (``T``, ``n_Q``): ``"1"`` or ``">1"``. ``dims`` as in :class:`EqualSizes`;
    the variant of a larger size keeps the first element only."""

    name: str = "steps"
    forms: tuple[str, ...] = ("1", ">1")
    dims: Mapping[str, int] = field(default_factory=dict)

    def form(self, call: Call, signature: Signature) -> str | None:
        name, dim = next(iter(self.dims.items()))
        value = call.get(name)
        if isinstance(value, int):
            return "1" if value == 1 else ">1"
        return None if not isinstance(value, torch.Tensor) else ("1" if value.shape[dim] == 1 else ">1")

    def variants(self, call: Call, signature: Signature) -> Iterator[tuple[str, Call]]:
        name, dim = next(iter(self.dims.items()))
        value = call.get(name)
        if not isinstance(value, torch.Tensor) or value.shape[dim] == 1:
            return
        size = value.shape[dim]
        changed = {}
        for arg, d in self.dims.items():
            t = call.get(arg)
            if isinstance(t, torch.Tensor) and t.ndim >= abs(d) and t.shape[d] == size:
                changed[arg] = t.narrow(d, 0, 1).clone()
        yield "1", call.with_args(**changed)


@dataclass(frozen=True)
class Classified(Factor):
    """A form only told apart, never varied (a size that would need new parameters, e.g.
    ``n_head`` 1 or more): ``classify`` gives the form."""

    classify: Callable[[Call], str | None] = lambda call: None

    def form(self, call: Call, signature: Signature) -> str | None:
        return self.classify(call)


# -- a target's documented forms --------------------------------------------------------------------
@dataclass(frozen=True)
class Signature:
    """What a target's docstring allows, as factors.

    Args:
        target: the name graded (``"scaled_dot_product_attention"``).
        factors: its factors, most telling first (the order hints are given in).
        core: each tensor argument's own number of dimensions, after the leading ones (the first
            argument sets the leading dimensions); tuples (a state) count per element.
        any_leading: whether any number of leading dimensions is allowed (else exactly one, the batch).
        scores: the shape a mask must broadcast to, from the call (None: no mask).
        score_names: the names of the scores' dimensions, last ones first being the trailing
            ones (``("B", "n_head", "n_Q", "n_K")``); leading ones beyond them are ``…``.
        restore: what makes a variant meet the contract again where a change can break it
            (mixture weights cast to float64 are renormalised to sum to 1 in float64).

        admits: whether a variant is one the graders can compare fairly, beyond the contract
            (a float32 gradient far out in a mixture's tails is too ill-conditioned to compare).

    Variants that are not documented inputs (:meth:`valid`: a mask row with no allowed key, or
    one ``admits`` refuses) are not asked.
    """

    target: str
    factors: tuple[Factor, ...]
    core: Mapping[str, int] = field(default_factory=dict)
    any_leading: bool = False
    scores: Callable[[Call], tuple[int, ...]] | None = None
    score_names: tuple[str, ...] = ()
    restore: Callable[[Call], Call] | None = None
    admits: Callable[[Call], bool] | None = None

    def leading(self, call: Call) -> int | None:
        """How many leading dimensions the call's first core argument has."""
        for name, core in self.core.items():
            value = call.get(name)
            if isinstance(value, tuple):
                value = value[0] if value else None
            if isinstance(value, torch.Tensor):
                return value.ndim - core
            break
        return None

    def leading_shape(self, call: Call) -> tuple[int, ...]:
        name, core = next(iter(self.core.items()))
        value = call.get(name)
        value = value[0] if isinstance(value, tuple) else value
        return tuple(value.shape[: value.ndim - core])

    def batch_size(self, call: Call) -> int | None:
        lead = self.leading(call)
        if not lead:
            return None
        return self.leading_shape(call)[0]

    def mask_label(self, mask: tuple[int, ...], scores: tuple[int, ...]) -> str:
        """The mask's shape in the scores' dimension names: ``[B,1,1,n_K]``, ``[…,n_Q,n_K]``."""
        names = list(self.score_names)
        scores_names = ["…"] * (len(scores) - len(names)) + names[-len(scores):] if len(scores) >= len(names) \
            else names[-len(scores):]
        labels = []
        for size, name, full in zip(mask, scores_names[len(scores) - len(mask):], scores[len(scores) - len(mask):]):
            labels.append("1" if size == 1 and full > 1 else name)
        collapsed = [label for i, label in enumerate(labels) if not (label == "…" and i and labels[i - 1] == "…")]
        return "[" + ",".join(collapsed) + "]"

    def valid(self, call: Call) -> bool:
        """Whether ``call`` is a documented input: its mask (if any) broadcasts to the scores
        without enlarging them and allows a key in every query row; and ``admits`` it."""
        if self.admits is not None and not self.admits(call):
            return False
        mask = call.get("mask") if self.scores is not None else None
        if mask is None:
            return True
        scores = tuple(self.scores(call))
        try:
            if tuple(torch.broadcast_shapes(mask.shape, scores)) != scores:
                return False
        except RuntimeError:
            return False
        return bool(mask.bool().expand(scores).any(-1).all())

    def forms_of(self, request: dict) -> dict[str, str]:
        """``{factor name: form}`` of every factor that applies to ``request``."""
        call = Call(request)
        return {f.name: form for f in self.factors if (form := f.form(call, self)) is not None}

    def variants(self, request: dict) -> Iterator[tuple[Factor, str, str, Call]]:
        """``(factor, the request's form, the variant's form, the variant)`` for every factor that
        can be changed on ``request`` and gives a documented input."""
        call = Call(request)
        for factor in self.factors:
            was = factor.form(call, self)
            if was is None:
                continue
            for now, variant in factor.variants(call, self):
                if self.restore is not None:
                    variant = self.restore(variant)
                if now != was and self.valid(variant):
                    yield factor, was, now, variant


def uncovered_forms(signature: Signature, requests: Iterable[dict]) -> list[tuple[str, str]]:
    """``(factor name, form)`` of every documented form of ``signature`` that none of
    ``requests`` (calls of its target) has: the forms no grader exercises."""
    seen: set[tuple[str, str]] = set()
    for request in requests:
        if request.get("target") == signature.target:
            seen.update(signature.forms_of(request).items())
    return [(f.name, form) for f in signature.factors for form in f.forms if (f.name, form) not in seen]
