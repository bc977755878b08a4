"""Forbidden torch functions: the names they go by, and three detectors of their use in the worker.

:class:`ForbiddenNames` says which forbidden function (if any) a name stands for, whatever the
spelling: ``scaled_dot_product_attention``, ``scaled_dot_product_attention.default``,
``aten::_scaled_dot_product_flash_attention_for_cpu``, ``_thnn_fused_lstm_cell``, ... The static
scan of the trusted side (:mod:`dlgrade.judging.source_scan`) uses the same names.

A :class:`ForbiddenUseDetector` records every forbidden function a call reaches, with a
``TorchFunctionMode`` (torch's Python API, OpOverloads included, before composite ops decompose)
and a ``TorchDispatchMode`` (the aten operators the dispatcher runs, however they were reached);
:func:`install_tripwires` wraps the functions where modules look them up, so a use is recorded
even when modes are disabled. Student code runs beside all three and could undo them deliberately
(see the README's security model), which is why the trusted side also scans the source.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

# words that name how or where an operator is implemented, not what it computes: dropped before
# names are compared (``_scaled_dot_product_flash_attention_for_cpu`` computes
# ``scaled_dot_product_attention``, ``_thnn_fused_lstm_cell_backward`` belongs to ``lstm_cell``)
IMPLEMENTATION_WORDS = frozenset({
    "native", "fused", "thnn", "mkldnn", "cudnn", "miopen", "triton", "quantized", "differentiable",
    "flash", "efficient", "math", "overrideable", "for", "cpu", "cuda", "mps", "fwd", "forward",
    "backward", "impl",
})

# aten operators a forbidden function ends in whose names the rule above does not reach, by the
# forbidden function's base name; found by running each under a TorchDispatchMode (CPU: nn.LSTM
# runs mkldnn_rnn_layer) and from the CUDA kernels in torch._C._dispatch_get_all_op_names()
DISPATCH_VARIANTS: dict[str, tuple[str, ...]] = {
    "scaled_dot_product_attention": ("flash_attention_forward", "efficient_attention_forward",
                                     "cudnn_attention_forward", "flash_attention_forward_no_dropout_inplace",
                                     "triton_scaled_dot_attention"),
    "lstm": ("mkldnn_rnn_layer", "cudnn_rnn", "miopen_rnn"),
    "gru": ("cudnn_rnn", "miopen_rnn"),
    "rnn_tanh": ("cudnn_rnn", "miopen_rnn"),
}


def base_name(name: str) -> str:
    """A torch function's or operator's name without namespace, overload or leading underscores:
    ``aten::_softmax.default`` and ``aten._softmax`` give ``softmax``."""
    name = name.rpartition("::")[2]
    if name.startswith(("aten.", "ops.aten.")):
        name = name.partition("aten.")[2]
    return name.partition(".")[0].lstrip("_")


def _core(base: str) -> tuple[str, ...]:
    words = tuple(w for w in base.split("_") if w)
    core = tuple(w for w in words if w not in IMPLEMENTATION_WORDS)
    return core or words


class ForbiddenNames:
    """Which label of ``forbidden`` (python name -> label) a torch function or aten operator name
    stands for: its own base name, an implementation variant of it, or a known dispatch target."""

    def __init__(self, forbidden: Mapping[str, str]) -> None:
        self.forbidden = dict(forbidden)
        self._exact: dict[str, str] = {}
        for name, label in self.forbidden.items():
            self._exact.setdefault(base_name(name), label)
        for name, label in self.forbidden.items():
            for variant in DISPATCH_VARIANTS.get(base_name(name), ()):
                self._exact.setdefault(variant, label)
        self._cores: dict[tuple[str, ...], str] = {}
        for name, label in self.forbidden.items():
            self._cores.setdefault(_core(base_name(name)), label)
        self._labels: dict[object, str | None] = {}
        # what every name that matches contains (each exact base name; each core's first word,
        # a word of the name): most of torch's names contain none and are not split at all
        # (install_tripwires asks about ~1,700 names in every new worker: 5.2 ms without this, 2.7)
        needles = dict.fromkeys([*self._exact, *(core[0] for core in self._cores if core)])
        # None: no prefilter (an empty core, of a base of only underscores, has no word)
        self._needles = re.compile("|".join(map(re.escape, needles))) if needles and all(self._cores) else None

    def __bool__(self) -> bool:
        return bool(self.forbidden)

    def match(self, name: str) -> str | None:
        """The label ``name`` (any spelling, see :func:`base_name`) stands for, else None."""
        if self._needles is not None and not self._needles.search(name):
            return None
        base = base_name(name)
        return self._exact.get(base) or self._cores.get(_core(base))

    def label(self, name: object) -> str | None:
        """:meth:`match`, cached (torch's names are few), None for what is not a string."""
        try:
            return self._labels[name]
        except (KeyError, TypeError):  # TypeError: an unhashable __name__, which no torch function has
            pass
        if not isinstance(name, str):
            return None
        found = self._labels[name] = self.match(name)
        return found

    def op_label(self, op) -> str | None:
        """The label an aten ``OpOverload`` stands for (cached by the operator itself)."""
        try:
            return self._labels[op]
        except KeyError:
            found = self._labels[op] = self.label(op.name())
            return found


@lru_cache(maxsize=64)
def _names(items: tuple[tuple[str, str], ...]) -> ForbiddenNames:
    return ForbiddenNames(dict(items))


def forbidden_names(forbidden: Mapping[str, str]) -> ForbiddenNames:
    """The (shared, cached) :class:`ForbiddenNames` of ``forbidden``."""
    return _names(tuple(forbidden.items()))


def _record(used: list[str], label: str) -> None:
    if label not in used:
        used.append(label)


class ForbiddenCallTracker(TorchFunctionMode):
    """Records the forbidden torch functions called, by name in any spelling (OpOverloads and
    private variants too: see :class:`ForbiddenNames`).

    ``nn.LSTMCell``, ``nn.GRUCell``, ``nn.LSTM`` and ``nn.MultiheadAttention`` all end in such a
    function (``torch.lstm_cell``, ``F.multi_head_attention_forward``, ...), so this catches the
    modules too. Composite functions (``lstm_cell``, ``_scaled_dot_product_attention_math``)
    decompose before the dispatcher's Python key: only this mode sees them by name.
    """

    def __init__(self, forbidden: Mapping[str, str], used: list[str] | None = None) -> None:
        super().__init__()
        self.forbidden = dict(forbidden)
        self.names = forbidden_names(forbidden)
        self.used: list[str] = [] if used is None else used
        self.inside = 0  # > 0 while a forbidden function found here runs

    def __torch_function__(self, func, types, args=(), kwargs=None):
        label = self.names.label(getattr(func, "__name__", None))
        if label is None:
            return func(*args, **(kwargs or {}))
        _record(self.used, label)
        self.inside += 1
        try:
            return func(*args, **(kwargs or {}))
        finally:
            self.inside -= 1


class ForbiddenOpTracker(TorchDispatchMode):
    """Records the forbidden aten operators run, however the Python code spelled them
    (``torch.ops.aten.*``, overloads, private variants, modules).

    Operators run inside a forbidden function ``calls`` already recorded are not recorded again:
    ``nn.TransformerEncoderLayer`` is reported as itself, not also as the attention it runs.
    """

    def __init__(self, calls: ForbiddenCallTracker) -> None:
        super().__init__()
        self.calls = calls
        self.op_label = calls.names.op_label

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # else torch wraps __torch_dispatch__ in torch._dynamo.disable: importing dynamo (and
        # sympy) on the first operator costs a second in every process, and each call a wrapper
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        label = self.op_label(func)
        if label is not None and not self.calls.inside:
            _record(self.calls.used, label)
        return func(*args, **(kwargs or {}))


class ForbiddenUseDetector:
    """The two modes, gathering labels in :attr:`used`; :meth:`watch` enters them (in turn, as
    often as needed: building, calling, backpropagating)."""

    def __init__(self, forbidden: Mapping[str, str]) -> None:
        self.calls = ForbiddenCallTracker(forbidden)
        self.ops = ForbiddenOpTracker(self.calls)
        self.used = self.calls.used

    @contextmanager
    def watch(self, operators: bool = True) -> Iterator[None]:
        """Both modes, or the function mode alone when not ``operators`` (the dispatch mode costs
        some microseconds an operator); neither when nothing is forbidden."""
        if not self.calls.names:
            yield
            return
        with self.calls:
            if operators:
                with self.ops:
                    yield
            else:
                yield


_TRIPPED: list[str] = []  # labels of forbidden functions called through a tripwire, in order


def _tripwire(original: Callable, label: str) -> Callable:
    def tripwire(*args, **kwargs):
        _TRIPPED.append(label)
        return original(*args, **kwargs)

    tripwire._dlgrade_tripwire = True
    return tripwire


def install_tripwires(forbidden: Mapping[str, str]) -> None:
    """Wrap every function that stands for a forbidden one (its private variants too) where
    modules look it up (``torch``, ``torch._VF``, ``torch.nn.functional``, ``torch._C._nn``), so a
    use is recorded even when torch-function and dispatch modes are disabled.

    A line beside :class:`ForbiddenUseDetector`; all run in the worker, so code that sets out to
    undo them can, but neither disabling modes nor patching the trackers is enough.
    """
    import torch.nn.functional as F

    names = forbidden_names(forbidden)
    if not names:
        return
    owners = ((torch, dir(torch)), (torch._VF, dir(torch._C._VariableFunctions)), (F, dir(F)),
              (torch._C._nn, dir(torch._C._nn)))
    for owner, attributes in owners:
        for name in attributes:
            label = names.label(name)
            original = getattr(owner, name, None) if label is not None else None
            if not callable(original) or getattr(original, "_dlgrade_tripwire", False):
                continue
            try:
                setattr(owner, name, _tripwire(original, label))
            except (AttributeError, TypeError):  # a read-only attribute: the modes still see it
                pass


def tripped_count() -> int:
    """How many uses the tripwires have recorded so far."""
    return len(_TRIPPED)


def tripped_since(count: int) -> list[str]:
    """The labels the tripwires recorded after the first ``count``."""
    return _TRIPPED[count:]
