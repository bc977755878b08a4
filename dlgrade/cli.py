"""dlgrade: grade deep-learning homework (students: check; instructors: grade, selftest, generate, build, demo).

The command line is made of the command groups of the zones that are installed
(:data:`COMMAND_GROUPS`): a student handout carries only ``dlgrade.handout`` and so offers
``check`` alone; a full install adds the instructor's commands.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
from pathlib import Path

from dlgrade.errors import UsageError

# each module has register(subparsers); in this order in --help
COMMAND_GROUPS = ("dlgrade.handout.commands", "dlgrade.batch.commands", "dlgrade.authoring.commands",
                  "dlgrade.packaging.commands")


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


def installed_groups() -> list[str]:
    """The command groups whose zone is in this copy of the package (a handout has the student's
    only). Looked for beside this file: an import would also find another installed copy's."""
    package = Path(__file__).resolve().parent
    return [name for name in COMMAND_GROUPS if (package / name.split(".")[1] / "__init__.py").is_file()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlgrade", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in installed_groups():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"dlgrade: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlgrade: interrupted", file=sys.stderr)
        return 130
    finally:
        exit_quickly()


def exit_quickly() -> None:
    """Let the interpreter's final garbage collections skip every object alive now: after a
    command that imported torch they take about 0.4 s, and nothing is left to clean up."""
    import gc

    gc.freeze()
