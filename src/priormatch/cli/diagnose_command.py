"""``priormatch diagnose``: the paper's experiments on one data set, with a report.

Stopping it: SIGINT (Ctrl-C) and SIGTERM both stop the worker processes, print one line saying
how to resume (run the same command again) and return 128 + the signal number (130 / 143).
``kill -9`` cannot be caught; the workers then notice that their parent died and exit
(:func:`priormatch.diagnose.worker.exit_with_parent`). Either way the next run of the same
command reuses the finished runs and resumes the others from their checkpoints.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from priormatch.diagnose.preset_names import DEFAULT_PRESET, PRESETS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="run the paper's experiments (batch composition, prior matching, overlay toy) and write a report",
        description=(
            "Pretrain and evaluate every cell of the selected experiments over several seeds, then write "
            "DIR/report.html (self-contained) and DIR/report.md with tables, figures and a verdict per experiment. "
            "Runs are cached in DIR/runs by a hash of their config: rerunning reuses finished runs, resumes "
            "interrupted ones and redoes broken ones (each named in the log). One diagnose per DIR at a time. "
            "Presets: smoke (< 1 min, for tests), quick (the default, ~7 min on 2 quiet CPU cores), "
            "full (sized for a GPU), series (the first two experiments on time series at the series recipe, ~13 min). Overrides change the preset, e.g. seeds=5, experiments=[prior_matching], "
            "base.train.epochs=20, method_overrides.msn.num_prototypes=128, prior_matching.taus=[0.1,0.5]."
        ),
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides of the diagnose config")
    parser.add_argument(
        "--preset", default=DEFAULT_PRESET, metavar="NAME", help=f"{' | '.join(PRESETS)} or a YAML file (default: {DEFAULT_PRESET})"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="output directory (default: runs/diagnose-<preset>)")
    parser.add_argument("--workers", type=int, metavar="N", help="parallel training processes (default: the usable CPU cores)")
    parser.set_defaults(handler=run)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same clean-up runs."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While open, SIGTERM raises :class:`Terminated` in the main thread (the previous handler is
    restored on exit); outside the main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(number: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def diagnose_command_line(argv: list[str]) -> str:
    """The command as typed, when this process runs ``priormatch diagnose`` (else "")."""
    return shlex.join(["priormatch", "diagnose", *argv[2:]]) if argv[1:2] == ["diagnose"] else ""


def run(args: argparse.Namespace) -> int:
    from priormatch.diagnose.config import load_diagnose_config
    from priormatch.diagnose.pipeline import run_diagnose

    overrides = list(args.overrides) + ([f"workers={args.workers}"] if args.workers is not None else [])
    config = load_diagnose_config(args.preset, overrides)
    out = args.out or Path("runs") / f"diagnose-{Path(args.preset).stem}"
    command = diagnose_command_line(sys.argv)
    try:
        with sigterm_as_interrupt():
            run_diagnose(config, out, command=command)
    except KeyboardInterrupt as interruption:
        number = signal.SIGTERM if isinstance(interruption, Terminated) else signal.SIGINT
        again = f"`{command}`" if command else "the same command"
        print(
            f"priormatch: diagnose stopped by {number.name}; run {again} again to resume (finished runs in {out / 'runs'} are reused)",
            file=sys.stderr,
        )
        return 128 + number
    return 0
