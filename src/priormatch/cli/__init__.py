"""The ``priormatch`` command: one sub-command per file in this package."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import NoReturn

from priormatch.cli import (
    datasets_command,
    diagnose_command,
    estimate_prior_command,
    evaluate_command,
    prototypes_command,
    report_command,
    train_command,
)
from priormatch.errors import PriormatchError

COMMANDS = (
    train_command,
    evaluate_command,
    datasets_command,
    diagnose_command,
    prototypes_command,
    report_command,
    estimate_prior_command,
)


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line like every other error of the command:
    ``priormatch: error: priormatch train: argument --nproc: invalid int value: 'x' (see ...)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"priormatch: error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="priormatch",
        description="Self-supervised learning with an explicit cluster prior (MSN/PMSN and comparison methods).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input, 130 when interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or a usage error already printed as one line
        return int(exit_request.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = print_warning
            return args.handler(args) or 0
    except PriormatchError as error:
        print(f"priormatch: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("priormatch: interrupted; resume a training run with `priormatch train --resume RUN_DIR`", file=sys.stderr)
        return 130


def print_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None, line=None) -> None:
    """Warnings as one line on stderr (``priormatch: warning: ...``), without the source line."""
    print(f"priormatch: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
