"""``priormatch evaluate``: frozen-feature probes and per-class metrics for a finished run."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="linear-probe / kNN evaluation of a run's frozen encoder, with per-class and head/medium/tail metrics",
        description=(
            "Extract frozen features of the run's evaluation encoder, fit probes on a class-balanced "
            "labelled subset of the training split, and score them on the test split. The same probes "
            "also score two baselines on the same rows: the encoder at its initialisation (untrained) "
            "and the flattened, standardised inputs (raw_input). Writes RUN_DIR/eval.json and prints a "
            "table with the trained, untrained and raw_input rows. Head/medium/tail groups are thirds "
            "of the classes ranked by their frequency in the pretraining data."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--probes", nargs="+", metavar="PROBE", help="override eval.probes (linear, knn, svm)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate while holding the run's lock: one writer of eval.json, none while training runs."""
    from priormatch.evaluation.run_evaluation import evaluate_run
    from priormatch.training.run_dir import completed_run, existing_run
    from priormatch.training.run_lock import run_lock

    run_dir = existing_run(args.run_dir)
    with run_lock(run_dir.root, purpose="evaluate"):
        completed_run(run_dir.root)  # checked under the lock: a training in progress is named as the holder
        evaluate_run(run_dir.root, probes=args.probes)
    return 0
