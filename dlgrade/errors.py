"""Exceptions shared across dlgrade."""


class UsageError(Exception):
    """Bad input from the user of a command: printed as one line, exit status 2."""


class GradingFailed(Exception):
    """The grading machinery itself could not grade any submission (no fault of theirs): printed
    as one line, exit status 1."""


class WorkerError(Exception):
    """The worker running student code died, timed out or broke the protocol."""


class WorkerTimeout(WorkerError):
    """A call into student code took longer than its timeout (the worker was stopped)."""


class BudgetExhausted(WorkerTimeout):
    """A submission used up its time budget (every call and reload together); nothing more of it runs."""
