"""Rare-regime benchmark: does a power-law cluster prior keep rare temporal regimes apart?

Data (:func:`priormatch.data.make_regime_splits`): series from distinct generative regimes (sine,
square, AR(2), chirp, level shift, spikes, ...), train split Zipf long-tailed with planted rare
regimes, test split balanced. Each method pretrains on the *unlabelled* train split
(:class:`priormatch.SSLEncoder`); a linear probe (logistic regression, C by CV) is then fitted on
the frozen features of the labelled, equally long-tailed train split, and we report per-regime
recall on the balanced test split, by frequency rank of the regime in the train split (regime
identities are shuffled per seed). ``random_init`` is the untrained encoder; methods with an EMA
teacher start at momentum 1 - 10 / steps (SSLEncoder's default ``ema_momentum="auto"``).

An arm is a method name, optionally with SSLEncoder keywords: ``pmsn:tau=1.0`` is PMSN with the
power-law exponent 1 (the default arms use each method's defaults, PMSN tau = 0.25).

    nice python benchmarks/rare_regimes.py --steps 100 --seeds 0 1 2
    nice python benchmarks/rare_regimes.py --methods pmsn pmsn:tau=1.0 msn --steps 300 --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from priormatch.data import REGIME_DEFAULTS, make_regime_splits
from priormatch.evaluation import LinearProbe
from priormatch.methods import METHODS
from priormatch.prior_estimation import estimate_prior
from priormatch.priors import prior_from_class_counts
from priormatch.training.schedules import short_run_momentum
from ucr_benchmark import paired_line, parse_arm, pretrained_features  # beside this script

HERE = Path(__file__).resolve().parent
DEFAULT_METHODS = ("pmsn", "msn", "simclr", "random_init")


def regime_data(seed: int, rare_count: int):
    """Train / test splits with :data:`REGIME_DEFAULTS` and the given data seed."""
    arguments = {**REGIME_DEFAULTS, "seed": seed, "rare_count": rare_count}
    n_train, n_test, length = (int(arguments.pop(key)) for key in ("n_train", "n_test_per_regime", "length"))
    return make_regime_splits(n_train, n_test, length, **arguments)


def prior_params(method: str, params: dict, train_x: np.ndarray, train_y: np.ndarray, seed: int, args: argparse.Namespace) -> dict:
    """The arm's SSLEncoder keywords with the two priors that need the data resolved:

    * ``prior=class_counts``: ``prior_values`` of the train split's regime counts spread over the K
      prototypes (:func:`priormatch.priors.prior_from_class_counts`): the oracle, labels used for the prior only;
    * ``prior=estimated``: the offline label-free estimate: MSN pretrained on the same unlabelled split,
      seed and budget, its features clustered (GMM, C = the number of regimes), the power law fitted to
      the sorted cluster sizes and carried over to K prototypes (``estimate-prior``'s rule).
    """
    prior = params.get("prior")
    if method != "pmsn" or prior not in ("class_counts", "estimated"):
        return params
    k = int(params.get("num_prototypes", METHODS["pmsn"].config_type().num_prototypes))
    rest = {key: value for key, value in params.items() if key != "prior"}
    if prior == "class_counts":
        counts = np.bincount(train_y)
        return {**rest, "prior": "power_law", "prior_values": prior_from_class_counts(counts, k).tolist()}
    features, _ = pretrained_features("msn", train_x, train_x[:1], steps=args.steps, batch_size=args.batch_size, seed=seed, params={})
    estimate = estimate_prior(features, num_clusters=int(train_y.max()) + 1, random_state=seed)
    return {**rest, "prior": "power_law", "tau": estimate.prototype_tau(k)}


def run_one(arm: str, seed: int, args: argparse.Namespace) -> dict:
    """Per-regime test recall (ordered by train frequency, most frequent first) of one arm and seed."""
    method, params = parse_arm(arm, peers=False)
    splits = regime_data(seed, args.rare_count)
    start = time.perf_counter()
    params = prior_params(method, params, splits.train.x, splits.train.y, seed, args)
    train_features, test_features = pretrained_features(
        method, splits.train.x, splits.test.x, steps=args.steps, batch_size=args.batch_size, seed=seed, params=params
    )
    predictions = LinearProbe(random_state=seed).fit(train_features, splits.train.y).predict(test_features)
    counts = splits.train.class_counts()
    by_frequency = np.argsort(-counts, kind="stable")
    recall = [float((predictions[splits.test.y == k] == k).mean()) for k in by_frequency]
    return {
        "method": arm,
        "seed": seed,
        "train_counts_by_rank": counts[by_frequency].tolist(),
        "regimes_by_rank": [splits.train.class_names[k] for k in by_frequency],
        "recall_by_rank": recall,
        "seconds": round(time.perf_counter() - start, 1),
        **({"tau": params["tau"]} if "tau" in params else {}),
    }


def table(records: list[dict], methods: list[str], rare: int) -> str:
    """Markdown: mean (std over seeds) recall per frequency rank, the rare mean and the balanced accuracy."""
    counts = np.array([r["train_counts_by_rank"] for r in records]).mean(axis=0)
    header = "| method | " + " | ".join(f"rank {i} (n={c:.0f})" for i, c in enumerate(counts)) + " | rare | balanced acc |"
    lines = [header, "|" + " --- |" * (len(counts) + 3)]
    for method in methods:
        recall = np.array([r["recall_by_rank"] for r in records if r["method"] == method])  # (seeds, regimes)
        if not len(recall):
            continue
        cells = [f"{m:.2f} ({s:.2f})" for m, s in zip(recall.mean(0), recall.std(0))]
        rare_recall, balanced = recall[:, -rare:].mean(1), recall.mean(1)
        cells += [f"{rare_recall.mean():.2f} ({rare_recall.std():.2f})", f"{balanced.mean():.3f} ({balanced.std():.3f})"]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_differences(records: list[dict], methods: list[str], rare: int, baseline: str = "msn") -> str:
    """Per-seed differences to ``baseline`` (same data and model seed): rare recall and balanced accuracy."""
    by_seed = {(r["method"], r["seed"]): np.array(r["recall_by_rank"]) for r in records}
    lines = [f"paired differences to {baseline}, mean (std over seeds): rare recall | balanced acc"]
    for method in methods:
        seeds = sorted(seed for m, seed in by_seed if m == method and (baseline, seed) in by_seed)
        if method == baseline or not seeds:
            continue
        diff = np.array(
            [
                [
                    by_seed[method, s][-rare:].mean() - by_seed[baseline, s][-rare:].mean(),
                    by_seed[method, s].mean() - by_seed[baseline, s].mean(),
                ]
                for s in seeds
            ]
        )  # (seeds, 2)
        lines.append(paired_line(method, diff))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help=f"arms: METHOD or METHOD:KEY=VALUE,... (e.g. pmsn:tau=1.0); default: those of {DEFAULT_METHODS} registered",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="data and model seeds")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rare-count", type=int, default=int(REGIME_DEFAULTS["rare_count"]), help="train series per rare regime")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "rare_regimes.jsonl", help="cache (one JSON per line)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    methods = args.methods or [m for m in DEFAULT_METHODS if m in METHODS or m == "random_init"]
    for arm in methods:
        parse_arm(arm, peers=False)  # a bad arm stops before any run
    key = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "rare_count": args.rare_count,
        "ema_momentum": short_run_momentum(args.steps),
    }
    cached = [json.loads(line) for line in args.results.read_text().splitlines()] if args.results.is_file() else []
    records = [r for r in cached if r["budget"] == key and r["method"] in methods and r["seed"] in args.seeds]
    rare = int(REGIME_DEFAULTS["rare_regimes"])
    for seed in args.seeds:
        for method in methods:
            if any(r["method"] == method and r["seed"] == seed for r in records):
                continue
            record = {**run_one(method, seed, args), "budget": key}
            records.append(record)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            with args.results.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(
                f"seed {seed} {method:<12} rare recall {np.mean(record['recall_by_rank'][-rare:]):.2f}  {record['seconds']:.0f}s",
                flush=True,
            )
    print(f"{key}, seeds {args.seeds}: linear-probe recall on the balanced test split, mean (std over seeds)")
    print(table(records, methods, rare))
    if "msn" in methods:
        print(paired_differences(records, methods, rare))


if __name__ == "__main__":
    main()
