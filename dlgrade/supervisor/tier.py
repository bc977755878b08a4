"""Which confinement tier is in force here, said, never silently weaker.

:func:`mode` probes once per process: bubblewrap with namespaces (``drop`` as root, ``caps`` as
an ordinary user), else ``plain``. :func:`describe` says it in one line.
"""
from __future__ import annotations

import os

from dlgrade.supervisor import bwrap, policy
from dlgrade.supervisor.policy import Mode


def mode() -> Mode:
    """The tier workers get on this machine."""
    if bwrap.bwrap_path() is None:
        return Mode.PLAIN
    return Mode.DROP if os.geteuid() == 0 else Mode.CAPS


def describe() -> str:
    """One line on how workers are confined on this machine."""
    return policy.describe(mode())
