"""The one place dlgrade reaches into Otter-Grader beyond its public API, checked against the
versions it was written for.

Otter's public API for a plugin that regrades (``GradingResults.update_score``,
``set_output``, ``clear_results``, as its own ``grade_override`` plugin uses) changes the scores
of Otter's test files; it cannot give each of dlgrade's tests its own entry, output and
visibility, nor the submission's header and execution time, because
``GradingResults.to_gradescope_dict`` writes ``results.json`` from Otter's test files and
configuration. So :func:`use_results` replaces that one method on the results object Otter
passes to ``after_grading``. And Otter 7.0 has no event or option that keeps its Jupyter kernel
from starting (``PythonRunner.run`` always calls ``grade_notebook``, which costs seconds and runs
nothing dlgrade uses): :func:`skip_kernel` answers that one call, once, with dlgrade's results.
Everything else (the plugin hooks, ``otter generate``, ``otter run``) is public. :func:`require_supported_otter` says, in one line, when the installed
Otter is not one this was checked with (:data:`SUPPORTED`; the tests run the real ``otter run``
on the built zip with the version installed).
"""
from __future__ import annotations

from typing import Any

from dlgrade.errors import UsageError

SUPPORTED = ("7.0",)  # Otter-Grader major.minor versions whose GradingResults this adapter knows


class UnsupportedOtter(UsageError):
    """The installed Otter-Grader is not a version dlgrade's adapter was checked with."""


def otter_version() -> str:
    import otter

    return str(getattr(otter, "__version__", "unknown"))


def require_supported_otter(version: str | None = None) -> str:
    """The installed Otter-Grader's version; :class:`UnsupportedOtter` unless it is supported."""
    version = version or otter_version()
    if ".".join(version.split(".")[:2]) not in SUPPORTED:
        raise UnsupportedOtter(f"otter-grader {version} is not supported (dlgrade works with "
                               f"{', '.join(v + '.x' for v in SUPPORTED)}); install one of those")
    return version


class _FixedResults:
    """Stands in for ``GradingResults.to_gradescope_dict``: returns dlgrade's results as they are."""

    def __init__(self, results: dict) -> None:
        self.results = results

    def __call__(self, ag_config: Any = None) -> dict:
        return self.results


def use_results(otter_results: Any, results: dict) -> None:
    """Make Otter write ``results`` (a Gradescope ``results.json`` dict) for this submission."""
    require_supported_otter()
    otter_results.to_gradescope_dict = _FixedResults(results)


def skip_kernel(results: dict) -> None:
    """Answer Otter's next ``grade_notebook`` call (the one that starts its kernel) with
    ``results`` instead, once: the submission is graded already and must not run there."""
    require_supported_otter()
    from otter.run.run_autograder.runners import python_runner
    from otter.test_files import GradingResults

    kernel = python_runner.grade_notebook

    def graded_already(*args: Any, **kwargs: Any) -> GradingResults:
        python_runner.grade_notebook = kernel
        ours = GradingResults([])
        use_results(ours, results)
        return ours

    python_runner.grade_notebook = graded_already
