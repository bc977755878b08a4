"""dlgrade: grade deep-learning homework (students: check; instructors: grade, selftest, generate, build, demo).

The command line is made of the command groups of the zones that are installed
(:data:`COMMAND_GROUPS`): a student handout carries only ``dlgrade.handout`` and so offers
``check`` alone; a full install adds the instructor's commands.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import math
import os
import sys
from pathlib import Path

from dlgrade.errors import GradingFailed, UsageError

# each module has register(subparsers); in this order in --help
COMMAND_GROUPS = ("dlgrade.handout.commands", "dlgrade.batch.commands", "dlgrade.authoring.commands",
                  "dlgrade.packaging.commands")

# what --help says where only the student's command is installed (a handout)
HANDOUT_DESCRIPTION = "dlgrade: run the public checks of your homework on your code"


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number greater than 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def creatable_folder(path: Path) -> Path:
    """``path``, checked before any work: a folder this user can write in, or one that can be
    made. Else the :class:`OSError` making it would raise, on the path in the way (an existing
    file: ``Not a directory``; a folder closed to this user: ``Permission denied``). Creates nothing."""
    probe = Path(os.path.abspath(path))
    while not os.path.lexists(probe):
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(probe))
    return path


def note(message: str) -> None:
    """Tell the user something worth knowing that is not an error: one line on stderr."""
    print(f"dlgrade: note: {message}", file=sys.stderr, flush=True)


def installed_groups() -> list[str]:
    """The command groups whose zone is in this copy of the package (a handout has the student's
    only). Looked for beside this file: an import would also find another installed copy's."""
    package = Path(__file__).resolve().parent
    return [name for name in COMMAND_GROUPS if (package / name.split(".")[1] / "__init__.py").is_file()]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``dlgrade: error: ...``, exit 2, as every
    other bad input), naming the command's ``--help`` instead of printing its usage."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    groups = installed_groups()
    description = (__doc__ or "").splitlines()[0] if len(groups) == len(COMMAND_GROUPS) else HANDOUT_DESCRIPTION
    parser = OneLineParser(prog="dlgrade", description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in groups:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors print one line and exit 2; a file that cannot be read or written
    (an ``--out`` that is a file, a folder without permission) one line and exit 1, and so does a
    grading run that could grade nothing (it could not start); a reader that went away
    (``dlgrade ... | head``) ends the command quietly."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as exc:
        print(f"dlgrade: error: {exc}", file=sys.stderr)
        return 2
    except GradingFailed as exc:
        print(f"dlgrade: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # as a shell reports a command ended by SIGPIPE
    except OSError as exc:
        print(f"dlgrade: error: {os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dlgrade: interrupted", file=sys.stderr)
        return 130
    finally:
        exit_quickly()


def os_error(exc: OSError) -> str:
    """One line for a failed file operation: what failed, on which path."""
    what = exc.strerror or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{what}: {' -> '.join(paths)}" if paths else f"{what}: {exc}"


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's flush at exit would fail again on the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def exit_quickly() -> None:
    """Let the interpreter's final garbage collections skip every object alive now: after a
    command that imported torch they take about 0.4 s, and nothing is left to clean up."""
    import gc

    gc.freeze()
