"""UCR benchmark: per-data-set accuracy and CPU-seconds of priormatch methods, the untrained encoder
and the peers a user would pick instead (TS2Vec, MiniRocket), all in one run on the same arrays.

Protocol ``v2`` (TS2Vec, Yue et al. AAAI 2022; T-Loss, Franceschi et al. NeurIPS 2019): each UCR set
is loaded with TS2Vec's preprocessing (the sets stored unnormalised standardised with the train
split's mean and std, :func:`priormatch.data.load_ucr`); each arm pretrains on the train split
without labels and extracts frozen features of both splits; an RBF SVM with C by TS2Vec's rule
(:class:`priormatch.evaluation.SVMProbe`: C = inf without a search on small train splits, else
5-fold CV over {1e-4, ..., 1e4, inf}) is fitted on the train split and scored on the test split.
Arms:

* a priormatch method (``ts2vec``, ``msn``, ``pmsn``, ``simclr``, ...; ``METHOD:KEY=VALUE,...`` sets
  SSLEncoder keywords of that arm only, e.g. ``pmsn:tau=1.0``), trained through ``SSLEncoder``;
* ``random_init``: the same series encoder untrained (the reference for what pretraining adds);
* ``ts2vec_peer`` and ``minirocket`` (:mod:`ucr_peers`: the ``ts2vec`` and ``aeon`` packages;
  MiniRocket classifies with its own ridge classifier).

Every record holds the test accuracy, per-class metrics and the process CPU-seconds of the arm
(pretraining + features + classifier; run at one thread, ``--threads 1``).

Budget knobs: ``--steps`` (``auto``: TS2Vec's 200 iterations, 600 for train splits of more than
100,000 values; methods with an EMA teacher start at momentum 1 - 10 / steps, see
:func:`priormatch.training.schedules.short_run_momentum`), ``--batch-size`` (TS2Vec: 8, capped at the
train size), ``--max-length`` (series longer are resampled; 0 keeps the native length) and
``--svm-search-samples``: the SVM's C search runs on a stratified subsample of at most that many
train series, the chosen C is refitted on all of them (up to 10,000, as TS2Vec); only Crop,
ElectricDevices, FordA and FordB have more than 2,000 train series.
Data sets run cheapest first (train size x length + test size x length), so a time-limited run
covers as many sets as possible.

Results are cached per (data set, arm, budget) as JSON under ``--results-dir``, so an interrupted
run resumes where it stopped; ``--report`` only prints the table from the cache. Protocol ``v1``
(values as stored, the old SVM rule) is kept for its committed results and can only be reported.

    nice python benchmarks/ucr_benchmark.py --steps auto --methods ts2vec random_init ts2vec_peer minirocket \
        --param encoder__hidden=64 --param encoder__depth=10 --param encoder__embed_dim=320
    python benchmarks/ucr_benchmark.py --report --detail ECG5000 ...             # the same options
    python benchmarks/ucr_benchmark.py --protocol v1 --report --steps 200        # the committed v1 run
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from scipy import stats

from priormatch import SSLEncoder
from priormatch.data import DatasetSplits, load_ucr, ucr_package_names
from priormatch.data.series_views import resample_linear
from priormatch.encoders import Conv1dConfig, build_encoder
from priormatch.evaluation import SVMProbe, classification_metrics, extract_features
from priormatch.methods import METHODS
from priormatch.recipes import ts2vec_iterations
from priormatch.training.schedules import short_run_momentum

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ucr_peers import PEERS, PeerResult, warm_up_minirocket  # noqa: E402

PUBLISHED = HERE / "data" / "ucr_published.csv"
DEFAULT_METHODS = ("ts2vec", "random_init", "ts2vec_peer", "minirocket")
PROTOCOL = "v2"  # TS2Vec's UCR preprocessing and SVM rule (v1: values as stored, the old SVM rule)
AUTO_STEPS = 0  # --steps auto: TS2Vec's iteration count per data set


@dataclass(frozen=True)
class Budget:
    """Everything that changes a result besides the data set and the arm (part of the cache key)."""

    steps: int  # AUTO_STEPS: ts2vec_iterations(train split)
    batch_size: int
    max_length: int  # 0: keep the native length
    svm_search_samples: int  # the SVM's C search runs on a stratified subsample of at most this many
    seed: int
    params: tuple[tuple[str, Any], ...] = ()  # extra SSLEncoder keywords, e.g. (("encoder__hidden", 64),)
    protocol: str = PROTOCOL

    def tag(self) -> str:
        """The cache folder of priormatch arms, e.g. ``v2-stepsauto-b8-L0-svm2000-seed0-<params hash>``."""
        if self.protocol == "v1":  # the committed v1 results' folder names
            tag = f"steps{self.steps}-b{self.batch_size}-ema{short_run_momentum(self.steps):g}-L{self.max_length}-svm{self.svm_search_samples}-seed{self.seed}"
        else:
            steps = "auto" if self.steps == AUTO_STEPS else str(self.steps)
            tag = f"{self.protocol}-steps{steps}-b{self.batch_size}-L{self.max_length}-svm{self.svm_search_samples}-seed{self.seed}"
        if self.params:
            tag += "-" + hashlib.sha256(json.dumps(self.params).encode()).hexdigest()[:8]
        return tag

    def peer_tag(self) -> str:
        """The cache folder of the peers, which take none of the priormatch budget knobs."""
        return f"{self.protocol}-peers-L{self.max_length}-svm{self.svm_search_samples}-seed{self.seed}"

    def steps_for(self, train_x: np.ndarray) -> int:
        return ts2vec_iterations(train_x) if self.steps == AUTO_STEPS else self.steps


def set_threads(threads: int) -> None:
    """Torch's threads, and numba's (MiniRocket's transform) unless NUMBA_NUM_THREADS is set: with
    numba's default of one thread per core, a worker kept running beside the process's other arms
    and added ~30% to their CPU-seconds on the shared 2-core machine. Call before MiniRocket runs."""
    torch.set_num_threads(threads)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (VALUE read as YAML: ``series_views__crop_scale=[0.8,1.0]``) -> (KEY, value)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--param {text!r}: use KEY=VALUE, e.g. encoder__hidden=64")
    return key, yaml.safe_load(value)


def parse_steps(text: str) -> int:
    """``auto`` -> AUTO_STEPS, else a positive step count."""
    if text == "auto":
        return AUTO_STEPS
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--steps {text!r}: use a positive integer or auto")
    return int(text)


def parse_arm(text: str, *, peers: bool = True) -> tuple[str, dict]:
    """``METHOD`` or ``METHOD:KEY=VALUE,...`` -> (method, SSLEncoder keywords); e.g. ``pmsn:tau=1.0``.

    peers: whether the peer arms (``ts2vec_peer``, ``minirocket``) are accepted too."""
    method, _, options = text.partition(":")
    known = [*sorted(METHODS), "random_init", *(sorted(PEERS) if peers else [])]
    if method not in known:
        raise SystemExit(f"arm {text!r}: unknown method {method!r}; use one of {known}")
    if options and method in PEERS:
        raise SystemExit(f"arm {text!r}: the peers take no options")
    try:
        return method, dict(parse_param(option) for option in options.split(",") if option)
    except argparse.ArgumentTypeError:  # one line naming the arm, not a traceback
        raise SystemExit(f"arm {text!r}: write options as KEY=VALUE separated by commas, e.g. pmsn:tau=1.0,num_prototypes=64") from None


def arm_budget(arm: str, budget: Budget) -> tuple[str, Budget]:
    """(method, ``budget`` with the arm's own SSLEncoder keywords after the shared ones): the cache key
    of one arm, e.g. ``ts2vec:prior=power_law`` -> ("ts2vec", params + (("prior", "power_law"),))."""
    method, options = parse_arm(arm)
    return method, replace(budget, params=budget.params + tuple(options.items()))


def paired_line(arm: str, differences: np.ndarray) -> str:
    """One line of per-seed differences to a baseline, (seeds, columns): "arm  +m (std) | +m (std)  [n seeds]"."""
    cells = " | ".join(f"{column.mean():+.3f} ({column.std():.3f})" for column in differences.T)
    return f"  {arm:<16} {cells}  [{len(differences)} seeds]"


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """The per-run budget options (defaults: TS2Vec's budget) and the cache directory, shared with ucr_tail.py."""
    parser.add_argument(
        "--steps", type=parse_steps, default=AUTO_STEPS, help="pretraining steps per data set and method (auto: TS2Vec's 200 or 600)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="pretraining batch (capped at the train size)")
    parser.add_argument("--max-length", type=int, default=0, help="resample longer series to this length (0: native)")
    parser.add_argument(
        "--svm-search-samples",
        "--svm-max-samples",
        dest="svm_search_samples",
        type=int,
        default=2000,
        help="the SVM's C search runs on a stratified subsample of at most this many train series",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch and numba CPU threads (1 is fastest on a shared machine)")
    parser.add_argument("--protocol", choices=("v1", PROTOCOL), default=PROTOCOL, help="v1: only --report its committed results")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results" / "ucr")
    parser.add_argument(
        "--param",
        type=parse_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra SSLEncoder keyword of every priormatch arm (repeatable; part of the cache key), e.g. encoder__hidden=64",
    )


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


def arm_output(method: str, splits: DatasetSplits, train_x: np.ndarray, test_x: np.ndarray, budget: Budget) -> PeerResult:
    """Features (or, for MiniRocket, test predictions) of one arm on one set."""
    if method in PEERS:
        return PEERS[method](train_x, splits.train.y, test_x, budget.seed)
    steps = budget.steps_for(train_x)
    features = pretrained_features(
        method, train_x, test_x, steps=steps, batch_size=budget.batch_size, seed=budget.seed, params=dict(budget.params)
    )
    return PeerResult(*features, info={"steps": steps})


def run_one(name: str, method: str, splits: DatasetSplits, budget: Budget) -> dict:
    """Pretrain, extract features, fit the SVM on the train split (or the peer's own classifier),
    score the test split; wall and process CPU seconds of the whole arm."""
    if budget.protocol != PROTOCOL:
        raise SystemExit(f"protocol {budget.protocol} is kept for its committed results only; pass --report")
    train_x, test_x = shorten(splits.train.x, budget.max_length), shorten(splits.test.x, budget.max_length)
    start, cpu_start = time.perf_counter(), time.process_time()
    output = arm_output(method, splits, train_x, test_x, budget)
    representation_cpu_s = time.process_time() - cpu_start
    predictions, svm_C = output.test_predictions, None
    if predictions is None:
        probe = SVMProbe(random_state=budget.seed, max_search_samples=budget.svm_search_samples)
        probe.fit(output.train_features, splits.train.y)
        predictions, svm_C = probe.predict(output.test_features), probe.C_
    counts = splits.train.class_counts()
    class_rank = np.argsort(np.argsort(-counts, kind="stable"), kind="stable")  # 0 = most frequent in train
    metrics = classification_metrics(splits.test.y, predictions, num_classes=splits.num_classes, class_rank=class_rank)
    return {
        "dataset": name,
        "method": method,
        "budget": asdict(budget),
        "accuracy": metrics["accuracy"],
        "metrics": metrics,
        "svm_C": svm_C,
        **output.info,
        "train_counts": counts.tolist(),
        "length": int(splits.train.x.shape[2]),
        "used_length": int(train_x.shape[2]),
        "representation_cpu_s": round(representation_cpu_s, 1),
        "cpu_s": round(time.process_time() - cpu_start, 1),
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
    tag = budget.peer_tag() if method in PEERS else budget.tag()
    return results_dir / tag / f"{name}__{method}.json"


def arm_path(results_dir: Path, name: str, arm: str, budget: Budget) -> Path:
    """The cache file of ``arm`` (``METHOD`` or ``METHOD:KEY=VALUE,...``) on one set."""
    return result_path(results_dir, name, *arm_budget(arm, budget))


def run_all(names: list[str], arms: list[str], budget: Budget, results_dir: Path) -> None:
    """Compute every missing (data set, arm) result, writing each as soon as it is done."""
    warmed = False
    for name in names:
        splits = None
        for arm in arms:
            method, arm_budget_ = arm_budget(arm, budget)
            path = result_path(results_dir, name, method, arm_budget_)
            if path.is_file():
                continue
            if method == "minirocket" and not warmed:
                warm_up_minirocket()
                warmed = True
            splits = splits or load_ucr(name)
            record = run_one(name, method, splits, arm_budget_)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".tmp").write_text(json.dumps(record, indent=1))
            path.with_suffix(".tmp").replace(path)
            print(f"{name:<28} {arm:<12} acc {record['accuracy']:.3f}  {record['total_s']:.0f}s", flush=True)


def read_published(path: Path = PUBLISHED) -> dict[str, float]:
    """Data set -> TS2Vec's published test accuracy."""
    with path.open() as handle:
        return {row["dataset"]: float(row["TS2Vec"]) for row in csv.DictReader(handle) if row["TS2Vec"]}


def cached_results(names: list[str], arms: list[str], budget: Budget, results_dir: Path) -> dict[tuple[str, str], dict]:
    """(data set, arm) -> the cached record, for the pairs that have one."""
    paths = {(name, arm): arm_path(results_dir, name, arm, budget) for name in names for arm in arms}
    return {key: json.loads(path.read_text()) for key, path in paths.items() if path.is_file()}


def report(names: list[str], methods: list[str], budget: Budget, results_dir: Path) -> str:
    """Markdown: per-set accuracy and CPU-seconds of every arm, then averages, wins and ratios over the
    sets where every arm ran."""
    published = read_published()
    results = cached_results(names, methods, budget, results_dir)
    complete = [name for name in names if all((name, m) in results for m in methods) and name in published]
    lines = [
        f"Protocol {budget.protocol}; priormatch arms {budget.tag()} {dict(budget.params) or ''}; peers {budget.peer_tag()}; "
        f"{len(complete)} of {len(names)} data sets complete for all arms.",
        "",
        "| data set | length | TS2Vec published | " + " | ".join(methods) + " | " + " | ".join(f"{m} CPU s" for m in methods) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in methods) * 2 + " |",
    ]
    for name in complete:
        row = [results[name, m] for m in methods]
        accuracies = " | ".join(f"{r['accuracy']:.3f}" for r in row)
        seconds = " | ".join(f"{_cpu_seconds(r):.0f}" for r in row)
        lines.append(f"| {name} | {row[0]['length']} ({row[0]['used_length']}) | {published[name]:.3f} | {accuracies} | {seconds} |")
    if complete:
        lines += ["", _summary(complete, methods, results, published)]
    return "\n".join(lines)


def _cpu_seconds(record: dict) -> float:
    return record.get("cpu_s", record["total_s"])  # v1 records measured wall time only


def _summary(names: list[str], methods: list[str], results: dict, published: dict[str, float]) -> str:
    """Average accuracy, wins / ties / losses and Wilcoxon p against the reference arms, CPU-seconds and
    their ratio to the TS2Vec peer."""
    accuracy = {m: np.array([results[n, m]["accuracy"] for n in names]) for m in methods}
    cpu = {m: sum(_cpu_seconds(results[n, m]) for n in names) for m in methods}
    references = {"TS2Vec published": np.array([published[n] for n in names])}
    references.update({m: accuracy[m] for m in ("ts2vec_peer", "random_init") if m in methods})
    header = (
        "| arm | average accuracy | " + " | ".join(f"W / T / L vs {r} (Wilcoxon p)" for r in references) + " | CPU s | CPU vs ts2vec_peer |"
    )
    lines = [header, "| --- " * (4 + len(references)) + "|"]
    lines.append(f"| TS2Vec (published) | {references['TS2Vec published'].mean():.3f} |" + " |" * (len(references) + 2))
    for method in methods:
        cells = " | ".join(_wins_cell(accuracy[method], reference) if name != method else "" for name, reference in references.items())
        ratio = f"{cpu[method] / cpu['ts2vec_peer']:.2f}" if "ts2vec_peer" in cpu and cpu["ts2vec_peer"] > 0 else ""
        lines.append(f"| {method} | {accuracy[method].mean():.3f} | {cells} | {cpu[method]:.0f} | {ratio} |")
    return "\n".join(lines)


def seed_summary(names: list[str], arms: list[str], budgets: list[Budget], results_dir: Path) -> str:
    """Markdown over seeds: per arm, the average accuracy of each seed (over the sets every arm ran
    with every seed), its mean (std over seeds), and wins / ties / losses with the Wilcoxon p of the
    per-set seed-mean accuracies against the TS2Vec peer and the untrained encoder."""
    runs = [cached_results(names, arms, budget, results_dir) for budget in budgets]
    complete = [n for n in names if all((n, a) in run for run in runs for a in arms)]
    if not complete:
        return "No data set has every arm with every seed yet."
    accuracy = {a: np.array([[run[n, a]["accuracy"] for n in complete] for run in runs]) for a in arms}  # (seeds, sets)
    references = [r for r in ("ts2vec_peer", "random_init") if r in arms]
    seeds = [b.seed for b in budgets]
    lines = [
        f"Seeds {seeds}: {len(complete)} data sets with every arm and seed ({', '.join(complete)}).",
        "",
        "| arm | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | mean (std) | "
        + " | ".join(f"W / T / L vs {r}, seed means (Wilcoxon p)" for r in references)
        + " |",
        "| --- " * (2 + len(seeds) + len(references)) + "|",
    ]
    for arm in arms:
        per_seed = accuracy[arm].mean(axis=1)  # (seeds,)
        spread = per_seed.std(ddof=1) if len(per_seed) > 1 else 0.0
        cells = " | ".join(f"{a:.3f}" for a in per_seed)
        wins = " | ".join(_wins_cell(accuracy[arm].mean(0), accuracy[r].mean(0)) if r != arm else "" for r in references)
        lines.append(f"| {arm} | {cells} | {per_seed.mean():.3f} ({spread:.3f}) | {wins} |")
    return "\n".join(lines)


def _wins_cell(a: np.ndarray, b: np.ndarray) -> str:
    wins, ties = int((a > b + 1e-9).sum()), int((np.abs(a - b) <= 1e-9).sum())
    return f"{wins} / {ties} / {len(a) - wins - ties} ({_wilcoxon_p(a, b)})"


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
    paths = {m: arm_path(results_dir, name, m, budget) for m in methods}
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
    parser.add_argument("--methods", nargs="+", default=None, help=f"arms (default: {' '.join(DEFAULT_METHODS)})")
    add_budget_arguments(parser)
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=[0], help="the per-set table shows the first; several add a summary over seeds"
    )
    parser.add_argument("--report", action="store_true", help="only print the table from cached results")
    parser.add_argument("--detail", nargs="+", default=[], metavar="NAME", help="also print per-class / head-tail tables of these sets")
    args = parser.parse_args()
    set_threads(args.threads)
    methods = args.methods or list(DEFAULT_METHODS)
    for method in methods:
        parse_arm(method)
    names = args.datasets or by_cost(ucr_package_names(), args.max_length)
    budgets = [
        Budget(args.steps, args.batch_size, args.max_length, args.svm_search_samples, seed, tuple(args.param), args.protocol)
        for seed in args.seeds
    ]
    budget = budgets[0]
    if not args.report:
        for seed_budget in budgets:
            run_all(names, methods, seed_budget, args.results_dir)
    print(report(names, methods, budget, args.results_dir))
    if len(budgets) > 1:
        print("\n" + seed_summary(names, methods, budgets, args.results_dir))
    for name in args.detail:
        print("\n" + class_detail(name, methods, budget, args.results_dir))


if __name__ == "__main__":
    main()
