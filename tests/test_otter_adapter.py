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


def test_an_unsupported_otter_fails_closed_in_the_plugin(tmp_path, monkeypatch, capsys):
    """Under an Otter this adapter does not know, the plugin raises nothing (Otter still writes a
    results file), grades nothing and leaves the submission folder empty for Otter's kernel."""
    from dlgrade.gradescope.otter_plugin import DlgradePlugin

    monkeypatch.setattr(otter_adapter, "otter_version", lambda: "9.9.0")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "rnn.py").write_text("print('student code')\n")
    plugin = DlgradePlugin(str(submission / "rnn.py"), None, {"assignment": "rnn"})
    plugin.before_grading(None)
    assert list(submission.iterdir()) == []
    assert plugin.results["score"] == 0 and "9.9.0 is not supported" in plugin.results["output"]

    class Results:
        pass

    plugin.after_grading(Results())
    out = capsys.readouterr().out
    assert out.count("otter-grader 9.9.0 is not supported") == 2


def test_a_link_in_a_submission_folder_is_not_followed(tmp_path):
    """A folder whose rnn.py is a link (to the reference, say) has no rnn.py to grade."""
    from dlgrade.authoring.registry import get_assignment
    from dlgrade.supervisor.submission import load_submission

    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "rnn.py").symlink_to(get_assignment("rnn").solution_path)
    loaded = load_submission(folder, "rnn")
    assert loaded.problem and "no rnn.py" in loaded.problem and not loaded.chunks
    (folder / "sub").mkdir()
    (folder / "sub" / "rnn.py").write_text("x = 1\n")
    loaded = load_submission(folder, "rnn")
    assert loaded.problem is None and [c.source for c in loaded.chunks] == ["x = 1\n"]
