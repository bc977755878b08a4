"""Forbidden torch functions: two independent detectors of their use, both inside the worker.

A :class:`ForbiddenCallTracker` (a ``TorchFunctionMode``) records every forbidden function a call
reaches; :func:`install_tripwires` wraps those functions where modules look them up, so a use is
recorded even when torch-function modes are disabled. Student code runs beside both and could
undo them deliberately (see the README's security model); neither alone is enough to disable.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.overrides import TorchFunctionMode


class ForbiddenCallTracker(TorchFunctionMode):
    """Records calls of torch functions whose ``__name__`` is in ``forbidden``.

    ``nn.LSTMCell``, ``nn.GRUCell``, ``nn.LSTM`` and ``nn.MultiheadAttention`` all end in such a
    function (``torch.lstm_cell``, ``F.multi_head_attention_forward``, ...), so this catches the
    modules too.
    """

    def __init__(self, forbidden: Mapping[str, str]) -> None:
        super().__init__()
        self.forbidden = dict(forbidden)
        self.used: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        label = self.forbidden.get(getattr(func, "__name__", ""))
        if label is not None and label not in self.used:
            self.used.append(label)
        return func(*args, **(kwargs or {}))


_TRIPPED: list[str] = []  # labels of forbidden functions called through a tripwire, in order


def install_tripwires(forbidden: Mapping[str, str]) -> None:
    """Wrap the forbidden functions where modules look them up (``torch``, ``torch._VF``,
    ``torch.nn.functional``), so a use is recorded even when torch-function modes are disabled.

    A second line next to :class:`ForbiddenCallTracker`; both run in the worker, so code that
    sets out to undo them can, but neither disabling modes nor patching the tracker is enough.
    """
    import torch.nn.functional as F

    for owner in (torch, torch._VF, F):
        for name, label in forbidden.items():
            original = getattr(owner, name, None)
            if original is None or getattr(original, "_dlgrade_tripwire", False):
                continue

            def tripwire(*args, _original=original, _label=label, **kwargs):
                _TRIPPED.append(_label)
                return _original(*args, **kwargs)

            tripwire._dlgrade_tripwire = True
            setattr(owner, name, tripwire)


def tripped_count() -> int:
    """How many uses the tripwires have recorded so far."""
    return len(_TRIPPED)


def tripped_since(count: int) -> list[str]:
    """The labels the tripwires recorded after the first ``count``."""
    return _TRIPPED[count:]
