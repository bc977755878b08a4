"""How a batch is graded: one frozen value, read once (the command line) and carried down whole.

``dlgrade grade`` makes a :class:`GradingOptions`; :func:`dlgrade.batch.run.grade_batch` splits
it across grading sessions (:meth:`GradingOptions.per_session`); each session's pytest gets it as
command-line options (:meth:`GradingOptions.pytest_args`) and the plugin reads it back
(:meth:`GradingOptions.from_pytest`). Nothing passes a timeout, a job count or a language by hand.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dlgrade.judging.i18n import DEFAULT_LANG, require_lang
from dlgrade.supervisor.policy import POLICY

if TYPE_CHECKING:
    import pytest

JOBS_PER_SESSION = 4  # one grading session judges answers about as fast as four workers produce them


def default_jobs() -> int:
    """Workers at once: one more than the CPUs, so one is always ready while the trusted process
    judges (measured on 2 CPUs: 3 workers grade a batch about 10% faster than 2)."""
    return (os.cpu_count() or 1) + 1


@dataclass(frozen=True)
class GradingOptions:
    """What the person grading chose.

    Attributes:
        timeout: wall-clock seconds per call into student code.
        budget: seconds a submission's workers may spend in all (loading, answering, reloads);
            None: :attr:`~dlgrade.supervisor.policy.Policy.budget_per_timeout` timeouts (see
            :attr:`budget_s`). Past it, the tests not yet answered score 0, saying why.
        jobs: workers running at once over the whole batch (the current submission and the next).
        sessions: grading sessions (trusted pytest processes) at once; None: one per
            :data:`JOBS_PER_SESSION` jobs.
        lang: language of what students read (test names, feedback, hints).
    """

    timeout: float = POLICY.call_timeout_s
    budget: float | None = None
    jobs: int = field(default_factory=default_jobs)
    sessions: int | None = None
    lang: str = DEFAULT_LANG

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"the timeout must be positive, not {self.timeout!r}")
        if self.budget is not None and not self.budget > 0:
            raise ValueError(f"the budget must be positive, not {self.budget!r}")
        if self.jobs < 1 or (self.sessions is not None and self.sessions < 1):
            raise ValueError("jobs and sessions must be at least 1")
        require_lang(self.lang)

    @property
    def budget_s(self) -> float:
        """The time budget per submission in seconds: :attr:`budget`, or a multiple of the timeout."""
        return self.budget if self.budget is not None else self.timeout * POLICY.budget_per_timeout

    def session_count(self, submissions: int) -> int:
        """How many grading sessions ``submissions`` submissions are split into."""
        wanted = self.sessions or max(1, self.jobs // JOBS_PER_SESSION)
        return max(1, min(wanted, submissions))

    def per_session(self, sessions: int) -> GradingOptions:
        """The options of each of ``sessions`` sessions: the jobs shared among them."""
        return replace(self, jobs=max(1, self.jobs // sessions), sessions=1)

    def pytest_args(self) -> list[str]:
        """These options on the grading session's command line (see :mod:`dlgrade.grading.plugin`)."""
        return ["--dlgrade-timeout", repr(self.timeout), "--dlgrade-budget", repr(self.budget_s), "--dlgrade-jobs", str(self.jobs), "--dlgrade-lang", self.lang]

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> GradingOptions:
        """The options a grading session was started with."""
        return cls(timeout=config.getoption("--dlgrade-timeout"), budget=config.getoption("--dlgrade-budget"), jobs=max(1, config.getoption("--dlgrade-jobs")),
                   sessions=1, lang=config.getoption("--dlgrade-lang"))
