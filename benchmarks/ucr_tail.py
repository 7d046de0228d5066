"""Head / medium / tail on one naturally long-tailed UCR set, over seeds: does a power-law prior help the tail?

Same protocol and budget as ``ucr_benchmark.py`` (pretrain on the unlabelled train split, frozen
features, RBF SVM with C by 5-fold CV on the whole train split), repeated over seeds, for arms
``METHOD`` or ``METHOD:KEY=VALUE,...`` (``pmsn:tau=1.0``). ECG5000's train classes have
292 / 177 / 19 / 10 / 2 series; the power law fitted to those counts has tau = 1.93. Results share
``ucr_benchmark.py``'s cache (one JSON per data set, method, budget and seed), so seed 0 of the
default arms is the full run's result.

    nice python benchmarks/ucr_tail.py --dataset ECG5000 --arms pmsn pmsn:tau=1.0 pmsn:tau=1.93 msn simclr random_init --seeds 0 1 2 3 4

``--param`` sets SSLEncoder keywords of every arm (as in ``ucr_benchmark.py``, so seed 0 shares its
cache) and ``--baseline`` the arm of the paired differences, e.g. the prior head on TS2Vec's network:

    nice python benchmarks/ucr_tail.py --arms ts2vec ts2vec:prior=uniform ts2vec:prior=power_law,tau=1.93 random_init \
        --baseline ts2vec:prior=uniform --param encoder__hidden=64 --param encoder__depth=10 --param encoder__embed_dim=320
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ucr_benchmark import AUTO_STEPS, Budget, add_budget_arguments, arm_path, paired_line, parse_arm, run_all, set_threads  # noqa: E402

GROUPS = ("accuracy", "balanced_accuracy", "macro_f1", "head_accuracy", "medium_accuracy", "tail_accuracy")


def seed_budget(seed: int, args: argparse.Namespace) -> Budget:
    """The budget of one seed; each arm adds its own options (:func:`ucr_benchmark.arm_budget`)."""
    return Budget(args.steps, args.batch_size, args.max_length, args.svm_search_samples, seed, tuple(args.param), args.protocol)


def load_metrics(arm: str, seeds: list[int], args: argparse.Namespace) -> dict[int, dict]:
    """Seed -> the cached metrics of ``arm`` (seeds without a result are left out)."""
    found = {}
    for seed in seeds:
        path = arm_path(args.results_dir, args.dataset, arm, seed_budget(seed, args))
        if path.is_file():
            found[seed] = json.loads(path.read_text())["metrics"]
    return found


def table(arms: list[str], seeds: list[int], args: argparse.Namespace) -> str:
    """Markdown: mean (std over seeds) of accuracy, balanced accuracy, macro-F1 and the head/medium/tail groups."""
    lines = ["| arm | seeds | " + " | ".join(GROUPS) + " |", "|" + " --- |" * (len(GROUPS) + 2)]
    for arm in arms:
        metrics = load_metrics(arm, seeds, args)
        if not metrics:
            continue
        values = np.array([[m[g] for g in GROUPS] for m in metrics.values()])
        cells = " | ".join(f"{mean:.3f} ({std:.3f})" for mean, std in zip(values.mean(0), values.std(0)))
        lines.append(f"| {arm} | {len(metrics)} | {cells} |")
    return "\n".join(lines)


def paired_differences(arms: list[str], seeds: list[int], args: argparse.Namespace, baseline: str = "msn") -> str:
    """Per-seed differences to ``baseline`` in balanced accuracy and tail accuracy, mean (std)."""
    base = load_metrics(baseline, seeds, args)
    lines = [f"paired differences to {baseline}, mean (std over seeds): balanced acc | tail acc"]
    for arm in arms:
        metrics = load_metrics(arm, seeds, args)
        common = sorted(set(metrics) & set(base))
        if arm == baseline or not common:
            continue
        diff = np.array([[metrics[s][g] - base[s][g] for g in ("balanced_accuracy", "tail_accuracy")] for s in common])
        lines.append(paired_line(arm, diff))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ECG5000")
    parser.add_argument("--arms", nargs="+", default=["pmsn", "pmsn:tau=1.0", "msn", "simclr", "random_init"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--baseline", default="msn", help="the arm the paired differences are taken to")
    add_budget_arguments(parser)
    parser.add_argument("--report", action="store_true", help="only print the tables from cached results")
    args = parser.parse_args()
    set_threads(args.threads)
    for arm in args.arms:
        parse_arm(arm)  # a bad arm stops before any run
    if not args.report:
        for seed in args.seeds:
            run_all([args.dataset], args.arms, seed_budget(seed, args), args.results_dir)
    steps = "TS2Vec's 200 / 600" if args.steps == AUTO_STEPS else str(args.steps)
    print(f"{args.dataset}, {steps} steps of batch {args.batch_size}, RBF SVM (protocol {args.protocol}); mean (std over seeds)")
    print(table(args.arms, args.seeds, args))
    if args.baseline in args.arms:
        print(paired_differences(args.arms, args.seeds, args, baseline=args.baseline))


if __name__ == "__main__":
    main()
