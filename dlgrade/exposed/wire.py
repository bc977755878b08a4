"""The messages between the trusted side and a worker, as types.

A worker is told once what to load (:class:`Load`) and says how that went (:class:`LoadReport`);
then each request (:class:`CallRequest`, :class:`InspectRequest`) gets one answer
(:class:`CallAnswer`, :class:`InspectAnswer`, or :class:`ErrorAnswer` when something failed,
wherever that happened). Every message is a plain ``dict`` on the wire (framed by
:mod:`dlgrade.exposed.protocol`); these types say which keys it has. Error answers are made by
:func:`error_answer` and :func:`exception_answer` only, on both sides of the boundary.
PrairieLearn's grader ``utils.py`` is the model.
"""

import os
import sysconfig
import traceback
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

# frames of dlgrade's own code (this package) and of the installed libraries (torch, the standard
# library) are never the student's line
_OWN_FILES = tuple(dict.fromkeys(
    os.path.join(os.path.realpath(p), "") for p in (
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")))))


class Op(StrEnum):
    """What a request asks the worker to do."""

    CALL = "call"  # build the target (a module or a function), call it, maybe backpropagate
    INSPECT = "inspect"  # say what the target is and its signatures


class Where(StrEnum):
    """What was being done when an answer failed (the key of its ``where.*`` message)."""

    LOADING = "loading"
    BUILDING = "building"
    CALLING = "calling"
    GRADIENTS = "computing gradients"
    HANDLING = "handling the request"
    RETURNING = "returning"
    PROTOCOL = "protocol"
    RUNNING = "running"  # the worker broke, timed out or was stopped during the call
    READING = "reading your submission"


class TargetKind(StrEnum):
    """What an inspected name is in the student's code."""

    MISSING = "missing"
    CLASS = "class"
    FUNCTION = "function"
    OTHER = "other"


class Chunk(TypedDict):
    """One piece of the submission's code: a ``.py`` file, or a notebook's code cells."""

    label: str
    source: str


class Load(TypedDict):
    """The first message to a worker: the code to run and how to confine it."""

    module_name: str
    chunks: list[Chunk]
    forbidden: dict[str, str]  # torch functions the student may not call -> the label shown
    limits: dict[str, int]  # :meth:`dlgrade.supervisor.policy.Limits.to_message`


class LoadError(TypedDict):
    label: str
    error: str


class Ready(TypedDict):
    ok: Literal[True]
    ready: Literal[True]


class LoadReport(TypedDict):
    """The worker's answer to :class:`Load`: what failed while the code ran (it goes on)."""

    ok: Literal[True]
    errors: list[LoadError]
    printed: str
    names: list[str]


class CallRequest(TypedDict):
    op: Literal[Op.CALL]
    target: str
    init: NotRequired[dict[str, Any] | None]  # None: the target is a function
    state_dict: NotRequired[dict[str, Any] | None]
    dtype: NotRequired[str]
    method: NotRequired[str]
    args: NotRequired[list[Any]]
    kwargs: NotRequired[dict[str, Any]]
    grad_outputs: NotRequired[list[Any] | None]
    labels: NotRequired[dict[str, Any]]  # names for the feedback; the worker ignores them
    seed: NotRequired[int]  # the random generator's seed when the call starts (default 0)


class InspectRequest(TypedDict):
    op: Literal[Op.INSPECT]
    target: str
    method: NotRequired[str | None]


class Gradients(TypedDict):
    inputs: list[Any]
    params: dict[str, Any]


class CallAnswer(TypedDict):
    ok: Literal[True]
    out: Any
    forbidden: list[str]
    inputs_after: list[Any]
    grads: NotRequired[Gradients]
    printed: NotRequired[str]


class InspectAnswer(TypedDict):
    ok: Literal[True]
    kind: TargetKind
    is_module: NotRequired[bool]
    init: NotRequired[list[str] | None]
    method: NotRequired[list[str] | None]
    signature: NotRequired[list[str] | None]
    printed: NotRequired[str]


class ErrorAnswer(TypedDict):
    ok: Literal[False]
    error: str
    where: Where
    forbidden: NotRequired[list[str]]
    printed: NotRequired[str]


Request = CallRequest | InspectRequest
Answer = CallAnswer | InspectAnswer | ErrorAnswer


def error_answer(where: Where, message: str) -> ErrorAnswer:
    """The answer to a request that failed while ``where``, saying ``message``."""
    return {"ok": False, "error": message, "where": Where(where)}


def exception_answer(where: Where, exc: BaseException) -> ErrorAnswer:
    """The answer to a request whose code raised ``exc``: its type, message and the student's line
    it came from (never a line of dlgrade's own)."""
    frames = traceback.extract_tb(exc.__traceback__)
    student_frames = [f for f in frames if not os.path.realpath(f.filename).startswith(_OWN_FILES)]
    location = ""
    if student_frames:
        last = student_frames[-1]
        location = f" (line {last.lineno}: {(last.line or '').strip()})"
    message = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, SyntaxError) and exc.text and exc.text.strip():  # the code never ran: no frame of it
        location = f" (line {exc.lineno}: {exc.text.strip()})"
        message = f"{type(exc).__name__}: {exc.msg}"
    if isinstance(exc, SystemExit):
        message = f"SystemExit({exc.code!r}): your code called sys.exit()/exit()"
    if isinstance(exc, NotImplementedError):
        location = ""  # the stub's own raise: the message already says what to implement
    return error_answer(where, message + location)
