"""UCR benchmark: per-data-set SVM accuracy of priormatch methods next to TS2Vec's published numbers.

Protocol (TS2Vec, Yue et al. AAAI 2022; T-Loss, Franceschi et al. NeurIPS 2019): for each UCR set,
pretrain an encoder on the train split without labels, extract frozen features of the train and
test splits, fit an RBF SVM with C chosen by 5-fold CV on the *whole* train split
(:class:`priormatch.evaluation.SVMProbe`) and report test accuracy. ``random_init`` is the same
encoder untrained (a reference for what pretraining adds).

CPU budget knobs (the published TS2Vec numbers use 200-600 steps of batch 8 on a GPU at full length):
``--steps`` (methods with an EMA teacher start at momentum 1 - 10 / steps, see
:func:`priormatch.training.schedules.short_run_momentum`), ``--batch-size`` (capped at the train size) and
``--max-length``: series longer than it are resampled (NaN-aware linear interpolation) to that many points, train and test alike; and
``--svm-max-samples`` (TS2Vec: 10,000): the SVM's C search and fit use a stratified subsample of at
most that many train series (only Crop, ElectricDevices, FordA and FordB have more than 2,000).
Data sets run cheapest first (train size x length + test size x length), so a time-limited run
covers as many sets as possible.

Results are cached per (data set, method, budget) as JSON under ``--results-dir``, so an
interrupted run resumes where it stopped; ``--report`` only prints the table from the cache.

    nice python benchmarks/ucr_benchmark.py --steps 200 --batch-size 8 --max-length 0   # all 51 sets, TS2Vec budget
    python benchmarks/ucr_benchmark.py --datasets ECG5000 Coffee --methods pmsn msn
    python benchmarks/ucr_benchmark.py --report --detail ECG5000      # the defaults are TS2Vec's budget
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
import yaml

from priormatch import SSLEncoder
from priormatch.training.schedules import short_run_momentum
from priormatch.data import DatasetSplits, load_ucr, ucr_package_names
from priormatch.data.series_views import resample_linear
from priormatch.encoders import Conv1dConfig, build_encoder
from priormatch.evaluation import SVMProbe, classification_metrics, extract_features
from priormatch.methods import METHODS

HERE = Path(__file__).resolve().parent
PUBLISHED = HERE / "data" / "ucr_published.csv"
DEFAULT_METHODS = ("pmsn", "msn", "simclr", "random_init")


@dataclass(frozen=True)
class Budget:
    """Everything that changes a result besides the data set and the method (part of the cache key)."""

    steps: int
    batch_size: int
    max_length: int  # 0: keep the native length
    svm_max_samples: int  # the SVM's C search runs on a stratified subsample of at most this many
    seed: int
    params: tuple[tuple[str, Any], ...] = ()  # extra SSLEncoder keywords, e.g. (("series_views__crop_scale", [0.8, 1.0]),)

    def tag(self) -> str:
        momentum = f"-ema{short_run_momentum(self.steps):g}"
        tag = f"steps{self.steps}-b{self.batch_size}{momentum}-L{self.max_length}-svm{self.svm_max_samples}-seed{self.seed}"
        if self.params:
            tag += "-" + hashlib.sha256(json.dumps(self.params).encode()).hexdigest()[:8]
        return tag


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (VALUE read as YAML: ``series_views__crop_scale=[0.8,1.0]``) -> (KEY, value)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--param {text!r}: use KEY=VALUE, e.g. encoder__hidden=64")
    return key, yaml.safe_load(value)


def parse_arm(text: str) -> tuple[str, dict]:
    """``METHOD`` or ``METHOD:KEY=VALUE,...`` -> (method, SSLEncoder keywords); e.g. ``pmsn:tau=1.0``."""
    method, _, options = text.partition(":")
    if method not in METHODS and method != "random_init":
        raise SystemExit(f"arm {text!r}: unknown method {method!r}; use one of {sorted(METHODS)} or random_init")
    return method, dict(parse_param(option) for option in options.split(",") if option)


def paired_line(arm: str, differences: np.ndarray) -> str:
    """One line of per-seed differences to a baseline, (seeds, columns): "arm  +m (std) | +m (std)  [n seeds]"."""
    cells = " | ".join(f"{column.mean():+.3f} ({column.std():.3f})" for column in differences.T)
    return f"  {arm:<16} {cells}  [{len(differences)} seeds]"


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """The per-run budget options (defaults: TS2Vec's budget) and the cache directory, shared with ucr_tail.py."""
    parser.add_argument("--steps", type=int, default=200, help="pretraining steps per data set and method")
    parser.add_argument("--batch-size", type=int, default=8, help="pretraining batch (capped at the train size)")
    parser.add_argument("--max-length", type=int, default=0, help="resample longer series to this length (0: native)")
    parser.add_argument("--svm-max-samples", type=int, default=2000, help="cap of the SVM's C search (TS2Vec: 10000)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared machine)")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results" / "ucr")


def shorten(x: np.ndarray, max_length: int) -> np.ndarray:
    """(n, C, T) -> (n, C, min(T, max_length)) by NaN-aware linear resampling over the whole length."""
    if max_length <= 0 or x.shape[2] <= max_length:
        return x
    positions = torch.linspace(0, x.shape[2] - 1, max_length)[None].expand(len(x), -1)
    return resample_linear(torch.from_numpy(x), positions).numpy()


def pretrained_features(
    method: str, train_x: np.ndarray, test_x: np.ndarray, *, steps: int, batch_size: int, seed: int, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) frozen features of ``method`` pretrained on ``train_x`` (labels unused).

    ``random_init`` is the series encoder untrained (``encoder__*`` params apply to it too). Methods
    with an EMA teacher start at momentum 1 - 10 / steps (SSLEncoder's ``ema_momentum="auto"``,
    :func:`short_run_momentum`). ``params`` are extra SSLEncoder keywords.
    """
    if method == "random_init":
        torch.manual_seed(seed)
        sizes = {key.removeprefix("encoder__"): value for key, value in params.items() if key.startswith("encoder__")}
        encoder = build_encoder(Conv1dConfig(**sizes), train_x.shape[1:])
        return extract_features(encoder, train_x), extract_features(encoder, test_x)
    encoder = SSLEncoder(method=method, steps=steps, batch_size=batch_size, random_state=seed, device="cpu", **params)
    return encoder.fit(train_x).transform(train_x), encoder.transform(test_x)


def run_one(name: str, method: str, splits: DatasetSplits, budget: Budget) -> dict:
    """Pretrain, extract features, fit the SVM on the full train split, score the test split."""
    train_x, test_x = shorten(splits.train.x, budget.max_length), shorten(splits.test.x, budget.max_length)
    start = time.perf_counter()
    train_features, test_features = pretrained_features(
        method, train_x, test_x, steps=budget.steps, batch_size=budget.batch_size, seed=budget.seed, params=dict(budget.params)
    )
    fit_seconds = time.perf_counter() - start
    probe = SVMProbe(random_state=budget.seed, max_search_samples=budget.svm_max_samples)
    probe.fit(train_features, splits.train.y)
    predictions = probe.predict(test_features)
    counts = splits.train.class_counts()
    class_rank = np.argsort(np.argsort(-counts, kind="stable"), kind="stable")  # 0 = most frequent in train
    metrics = classification_metrics(splits.test.y, predictions, num_classes=splits.num_classes, class_rank=class_rank)
    return {
        "dataset": name,
        "method": method,
        "budget": asdict(budget),
        "accuracy": metrics["accuracy"],
        "metrics": metrics,
        "svm_C": probe.C_,
        "train_counts": counts.tolist(),
        "length": int(splits.train.x.shape[2]),
        "used_length": int(train_x.shape[2]),
        "pretrain_and_features_s": round(fit_seconds, 1),
        "total_s": round(time.perf_counter() - start, 1),
    }


def by_cost(names: list[str], max_length: int) -> list[str]:
    """Names sorted by (train + test series) x used length, cheapest first."""

    def cost(name: str) -> int:
        splits = load_ucr(name)
        length = splits.train.x.shape[2] if max_length <= 0 else min(splits.train.x.shape[2], max_length)
        return (len(splits.train) + len(splits.test)) * length

    return sorted(names, key=cost)


def result_path(results_dir: Path, name: str, method: str, budget: Budget) -> Path:
    return results_dir / budget.tag() / f"{name}__{method}.json"


def run_all(names: list[str], methods: list[str], budget: Budget, results_dir: Path) -> None:
    """Compute every missing (data set, method) result, writing each as soon as it is done."""
    for name in names:
        splits = None
        for method in methods:
            path = result_path(results_dir, name, method, budget)
            if path.is_file():
                continue
            splits = splits or load_ucr(name)
            record = run_one(name, method, splits, budget)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".tmp").write_text(json.dumps(record, indent=1))
            path.with_suffix(".tmp").replace(path)
            print(f"{name:<28} {method:<12} acc {record['accuracy']:.3f}  {record['total_s']:.0f}s", flush=True)


def read_published(path: Path = PUBLISHED) -> dict[str, float]:
    """Data set -> TS2Vec's published test accuracy."""
    with path.open() as handle:
        return {row["dataset"]: float(row["TS2Vec"]) for row in csv.DictReader(handle) if row["TS2Vec"]}


def report(names: list[str], methods: list[str], budget: Budget, results_dir: Path) -> str:
    """Markdown: per-set accuracies, averages over the sets where all methods ran, wins/ties/losses vs TS2Vec."""
    published = read_published()
    results = {
        (name, method): json.loads(result_path(results_dir, name, method, budget).read_text())
        for name in names
        for method in methods
        if result_path(results_dir, name, method, budget).is_file()
    }
    complete = [name for name in names if all((name, m) in results for m in methods) and name in published]
    lines = [
        f"Budget: {budget.tag()} {dict(budget.params) or ''}; {len(complete)} of {len(names)} data sets complete for all methods.",
        "",
        "| data set | length (used) | TS2Vec | " + " | ".join(methods) + " | seconds |",
        "| --- | --- | --- | " + " | ".join("---" for _ in methods) + " | --- |",
    ]
    for name in complete:
        row = [results[name, m] for m in methods]
        seconds = sum(r["total_s"] for r in row)
        accuracies = " | ".join(f"{r['accuracy']:.3f}" for r in row)
        lines.append(f"| {name} | {row[0]['length']} ({row[0]['used_length']}) | {published[name]:.3f} | {accuracies} | {seconds:.0f} |")
    if complete:
        lines += ["", _summary(complete, methods, results, published)]
    return "\n".join(lines)


def _summary(names: list[str], methods: list[str], results: dict, published: dict[str, float]) -> str:
    ts2vec = np.array([published[n] for n in names])
    lines = ["| | average accuracy | wins / ties / losses vs TS2Vec | Wilcoxon p vs TS2Vec | total seconds |", "| --- | --- | --- | --- | --- |"]
    lines.append(f"| TS2Vec (published) | {ts2vec.mean():.3f} | | | |")
    for method in methods:
        accuracy = np.array([results[n, method]["accuracy"] for n in names])
        wins, ties = int((accuracy > ts2vec + 1e-9).sum()), int((np.abs(accuracy - ts2vec) <= 1e-9).sum())
        seconds = sum(results[n, method]["total_s"] for n in names)
        lines.append(f"| {method} | {accuracy.mean():.3f} | {wins} / {ties} / {len(names) - wins - ties} | {_wilcoxon_p(accuracy, ts2vec)} | {seconds:.0f} |")
    if "pmsn" in methods and "msn" in methods:
        pmsn = np.array([results[n, "pmsn"]["accuracy"] for n in names])
        msn = np.array([results[n, "msn"]["accuracy"] for n in names])
        lines.append(
            f"\nPMSN vs MSN: {int((pmsn > msn).sum())} wins, {int((pmsn == msn).sum())} ties, {int((pmsn < msn).sum())} losses;"
            f" mean difference {np.mean(pmsn - msn):+.3f}, Wilcoxon signed-rank p = {_wilcoxon_p(pmsn, msn)}."
        )
    return "\n".join(lines)


def _wilcoxon_p(a: np.ndarray, b: np.ndarray) -> str:
    """Two-sided Wilcoxon signed-rank p-value of paired per-set accuracies (ties dropped), as text."""
    if np.count_nonzero(a - b) < 2:
        return "n/a"
    return f"{stats.wilcoxon(a, b).pvalue:.2g}"


def class_detail(name: str, methods: list[str], budget: Budget, results_dir: Path) -> str:
    """Markdown: accuracy, balanced accuracy, macro-F1, head/medium/tail and per-class recall of one set.

    Classes are ranked by train frequency; head/medium/tail are thirds of that ranking
    (:func:`priormatch.evaluation.classification_metrics`), each a class-balanced mean of recall.
    """
    paths = {m: result_path(results_dir, name, m, budget) for m in methods}
    records = {m: json.loads(path.read_text()) for m, path in paths.items() if path.is_file()}
    if not records:
        return f"{name}: no cached results for budget {budget.tag()}"
    counts = np.array(next(iter(records.values()))["train_counts"])
    order = np.argsort(-counts, kind="stable")  # most frequent class first
    lines = [
        f"{name}, train series per class (most frequent first): {counts[order].tolist()}",
        "",
        "| method | accuracy | balanced acc | macro-F1 | head | medium | tail | recall by train frequency |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for method, record in records.items():
        m = record["metrics"]
        recalls = " / ".join(f"{m['per_class_accuracy'][c]:.2f}" for c in order)
        lines.append(
            f"| {method} | {m['accuracy']:.3f} | {m['balanced_accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{m['head_accuracy']:.3f} | {m['medium_accuracy']:.3f} | {m['tail_accuracy']:.3f} | {recalls} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=None, help="UCR set names (default: all sets the package ships)")
    parser.add_argument("--methods", nargs="+", default=None, help=f"methods (default: those of {DEFAULT_METHODS} registered)")
    add_budget_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", type=parse_param, action="append", default=[], metavar="KEY=VALUE",
                        help="extra SSLEncoder keyword (repeatable; part of the cache key), e.g. encoder__hidden=64")
    parser.add_argument("--report", action="store_true", help="only print the table from cached results")
    parser.add_argument("--detail", nargs="+", default=[], metavar="NAME", help="also print per-class / head-tail tables of these sets")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.datasets or by_cost(ucr_package_names(), args.max_length)
    methods = args.methods or [m for m in DEFAULT_METHODS if m in METHODS or m == "random_init"]
    budget = Budget(args.steps, args.batch_size, args.max_length, args.svm_max_samples, args.seed, tuple(args.param))
    if not args.report:
        run_all(names, methods, budget, args.results_dir)
    print(report(names, methods, budget, args.results_dir))
    for name in args.detail:
        print("\n" + class_detail(name, methods, budget, args.results_dir))


if __name__ == "__main__":
    main()
