"""Shared fixtures for dlgrade's own tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request):
    """Each assignment in turn."""
    return get_assignment(request.param)


def reference_source(name: str) -> str:
    """The reference solution of ``name`` without its solution markers."""
    return get_assignment(name).reference_source


def dlgrade_cmd(*args: str) -> list[str]:
    """Command line running the dlgrade CLI with this interpreter."""
    return [sys.executable, "-m", "dlgrade", *args]
