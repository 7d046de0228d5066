"""``priormatch evaluate``: frozen-feature probes and per-class metrics for a finished run."""

from __future__ import annotations

import argparse
from pathlib import Path

from priormatch.evaluation.run_evaluation import evaluate_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="linear-probe / kNN evaluation of a run's frozen encoder, with per-class and head/medium/tail metrics",
        description=(
            "Extract frozen features of the run's evaluation encoder, fit probes on a class-balanced "
            "labelled subset of the training split, and score them on the test split. Writes "
            "RUN_DIR/eval.json and prints a table. Head/medium/tail groups are thirds of the classes "
            "ranked by their frequency in the pretraining data."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--probes", nargs="+", metavar="PROBE", help="override eval.probes (linear, knn, svm)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    evaluate_run(args.run_dir, probes=args.probes)
    return 0
