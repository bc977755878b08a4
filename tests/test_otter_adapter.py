"""The Otter adapter: the one place beyond Otter's public API, and its version check."""
from __future__ import annotations

import pytest

from dlgrade.errors import UsageError
from dlgrade.gradescope import otter_adapter


def test_the_installed_otter_is_supported():
    version = otter_adapter.require_supported_otter()
    assert ".".join(version.split(".")[:2]) in otter_adapter.SUPPORTED


@pytest.mark.parametrize("version", ["6.1.0", "7.1.0", "8.0.0", "unknown"])
def test_an_unsupported_otter_is_a_one_line_usage_error(version):
    with pytest.raises(UsageError) as info:
        otter_adapter.require_supported_otter(version)
    message = str(info.value)
    assert "\n" not in message and f"otter-grader {version} is not supported" in message
    assert "7.0.x" in message


def test_use_results_makes_otter_write_dlgrades_results():
    from otter.test_files import GradingResults

    ours = {"score": 3.0, "max_score": 4.0, "output": "rnn: rnn.py\nScore: 3 / 4", "tests": []}
    results = GradingResults([])
    otter_adapter.use_results(results, ours)
    assert results.to_gradescope_dict(None) is ours


def test_only_the_adapter_reaches_past_otters_public_api():
    from pathlib import Path

    import dlgrade

    package = Path(dlgrade.__file__).parent
    users = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if "to_gradescope_dict =" in p.read_text())
    assert users == ["gradescope/otter_adapter.py"]
