"""Exceptions shared across dlgrade."""


class UsageError(Exception):
    """Bad input from the user of a command: printed as one line, exit status 2."""


class GradeFailure(AssertionError):
    """A graded check failed; ``message`` is the feedback the student reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkerError(Exception):
    """The worker running student code died, timed out or broke the protocol."""
