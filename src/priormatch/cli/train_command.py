"""``priormatch train``: pretrain a method and write a run directory.

The run directory's lock (:mod:`priormatch.training.run_lock`) is held for the whole training by
the launching process: rank 0 (one process, or under torchrun) or the parent of ``--nproc N``.
SIGINT / SIGTERM end training at a step boundary with a checkpoint; the command then prints how
to resume and exits with 128 + the signal number. The work is in :mod:`priormatch.cli.train_run`,
imported when the command runs (so that ``priormatch --help`` stays fast).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="pretrain an encoder (MSN, PMSN, ...) and write a run directory",
        description=(
            "Pretrain an encoder. Configuration: typed defaults, then --config YAML files, then "
            "dotted overrides such as method.name=pmsn method.tau=0.5 data.imbalance_ratio=100. "
            "Prints the run directory as its last line."
        ),
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides, e.g. train.steps=20")
    parser.add_argument(
        "--config", action="append", default=[], type=Path, metavar="FILE", help="YAML config file (repeatable; later files win)"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="run directory to create (default: runs/<data>-<method>-s<seed>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train with N local DDP processes (gloo on CPU, NCCL on GPU; train.batch_size is the global batch, "
        "split over them); for several nodes launch with torchrun instead (docs/distributed.md)",
    )
    parser.set_defaults(handler=run_reporting_interruption)


def run_reporting_interruption(args: argparse.Namespace) -> int:
    """Train (see :func:`priormatch.cli.train_run.run_reporting_interruption`)."""
    from priormatch.cli import train_run

    return train_run.run_reporting_interruption(args)
