"""The image default recipe against its baselines (issue 12, item 3).

For every method of the issue (SimCLR, VICReg, SwAV, MSN, PMSN) and seed, runs exactly

    priormatch train data.name=fashion_mnist method.name=M seed=S --out runs/image_recipe/M-sS
    priormatch evaluate runs/image_recipe/M-sS

(no other keys: the recipe is the library's default), times both, and prints, per run, the
trained kNN and linear accuracy beside the run's own ``untrained`` and ``raw_input`` rows and the
two margins of the issue: kNN >= untrained kNN + 10 points and linear >= raw-input linear.

``--threads N`` sets OMP/MKL threads (the environment, not a config key); ``--jobs J`` runs J
commands side by side. With ``--threads 1 --jobs 2`` each run gets one of the two cores, so its
training time is an upper bound on the same run with both cores (``--threads 2 --jobs 1``).
Results are cached per run in ``benchmarks/results/image_recipe.jsonl`` (resumable; the previous
default, 13 epochs with contiguous CNN memory and SwAV's 4 focal views, is in
``image_recipe_13ep.jsonl``: ``--table --results`` that file). ``--extra
KEY=VALUE ...`` adds config keys to every train command (tests use tiny budgets; the reported
table has none).

    python benchmarks/image_recipe.py --methods msn pmsn simclr vicreg swav --seeds 0 --threads 2 --jobs 1
    python benchmarks/image_recipe.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from priormatch.diagnose.statistics import summarize

METHODS = ("simclr", "vicreg", "swav", "msn", "pmsn")
RESULTS = Path(__file__).parent / "results" / "image_recipe.jsonl"
KNN_MARGIN = 0.10  # kNN >= untrained kNN + 10 points


def thread_env(threads: int) -> dict[str, str]:
    return {**os.environ, **{key: str(threads) for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


def timed(command: list[str], threads: int, log: Path) -> float:
    """Wall seconds of ``command``, its output appended to ``log``; raises on failure."""
    start = time.perf_counter()
    with log.open("a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=thread_env(threads))
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {result.returncode}); see {log}")
    return time.perf_counter() - start


def run_one(method: str, seed: int, threads: int, runs: Path, extra: tuple[str, ...] = ()) -> dict:
    """Train and evaluate one (method, seed) with the default recipe; its result row."""
    out = runs / f"{method}-s{seed}"
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = runs / f"{method}-s{seed}.log"
    load_before = os.getloadavg()[0]
    command = ["priormatch", "train", "data.name=fashion_mnist", f"method.name={method}", f"seed={seed}", *extra, "--out", str(out)]
    train_s = timed(command, threads, log)
    eval_s = timed(["priormatch", "evaluate", str(out)], threads, log)
    record = json.loads((out / "eval.json").read_text())
    steps = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    return {
        "method": method,
        "seed": seed,
        "threads": threads,
        "extra": list(extra),
        "steps": steps,
        "train_s": round(train_s, 1),
        "eval_s": round(eval_s, 1),
        "load_before": round(load_before, 2),
        "trained": {probe: record["probes"][probe]["accuracy"] for probe in ("knn", "linear")},
        "untrained": record["untrained"],
        "raw_input": record["raw_input"],
    }


def cached(results: Path) -> dict[tuple[str, int], dict]:
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.is_file() else []
    return {(row["method"], row["seed"]): row for row in rows}


def run_all(methods: list[str], seeds: list[int], args: argparse.Namespace) -> None:
    done = cached(args.results)
    todo = [(method, seed) for seed in seeds for method in methods if (method, seed) not in done]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(lambda item: run_one(*item, args.threads, args.runs, tuple(args.extra)), todo):
            with args.results.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(format_row(row), flush=True)


def margins(row: dict) -> tuple[float, float]:
    """(kNN - untrained kNN - 10 points, linear - raw-input linear), in points; both >= 0 to pass."""
    knn = row["trained"]["knn"] - row["untrained"]["knn"] - KNN_MARGIN
    linear = row["trained"]["linear"] - row["raw_input"]["linear"]
    return 100 * knn, 100 * linear


def format_row(row: dict) -> str:
    knn_margin, linear_margin = margins(row)
    passed = "yes" if knn_margin >= 0 and linear_margin >= 0 else "no"
    pct = {name: {probe: f"{100 * value:.1f}" for probe, value in row[name].items()} for name in ("trained", "untrained", "raw_input")}
    return (
        f"| {row['method']} | {row['seed']} | {row['steps']} | {row['train_s'] / 60:.1f} | {pct['trained']['knn']} | {pct['untrained']['knn']} "
        f"| {pct['raw_input']['knn']} | {knn_margin:+.1f} | {pct['trained']['linear']} | {pct['untrained']['linear']} "
        f"| {pct['raw_input']['linear']} | {linear_margin:+.1f} | {passed} |"
    )


def summary_row(method: str, rows: list[dict]) -> str:
    """One method over its seeds: the seeds' kNN and linear margins, their means with a 95 % t-interval
    of the kNN one, the smallest, the budget run's time (2 threads), and the decision rule of
    docs/results.md (both mean margins >= 0 and the budget run <= 10 minutes)."""
    knn, linear = (np.array(values) for values in zip(*(margins(row) for row in rows)))
    spread = summarize(knn)
    interval = f"[{spread.low:+.2f}, {spread.high:+.2f}]" if len(knn) > 1 else "(one seed)"
    budget = [row["train_s"] / 60 for row in rows if row["threads"] == 2]
    minutes = max(budget) if budget else float("nan")
    meets = knn.mean() >= 0 and linear.mean() >= 0 and minutes <= 10
    seeds = ", ".join(f"{value:+.1f}" for value in knn)
    return (
        f"| {method} | {len(rows)} | {minutes:.1f} | {seeds} | {knn.mean():+.2f} {interval} "
        f"| {knn.min():+.1f} | {linear.mean():+.1f} | {linear.min():+.1f} | {'yes' if meets else 'no'} |"
    )


SUMMARY_HEADER = (
    "| method | seeds | train min (2 threads) | kNN - (untrained + 10) per seed | mean [95 % t-interval] | smallest "
    "| linear - raw, mean | smallest | margins met (means >= 0, <= 10 min) |\n" + "| --- " * 2 + "| ---: " * 6 + "| --- |"
)


HEADER = (
    "| method | seed | steps | train min | kNN | untrained kNN | raw kNN | kNN - (untrained + 10) | linear | untrained linear "
    "| raw linear | linear - raw | both margins |\n" + "| --- " * 4 + "| ---: " * 8 + "| --- |"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads per command")
    parser.add_argument("--jobs", type=int, default=2, help="commands side by side")
    parser.add_argument("--extra", nargs="*", default=[], metavar="KEY=VALUE", help="config keys added to every train command")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSONL cache")
    parser.add_argument("--runs", type=Path, default=Path("runs/image_recipe"), help="where the run directories go")
    parser.add_argument("--table", action="store_true", help="only print the cached results")
    args = parser.parse_args()
    if not args.table:
        run_all(args.methods, args.seeds, args)
    rows = sorted(cached(args.results).values(), key=lambda row: (METHODS.index(row["method"]), row["seed"]))
    print(HEADER)
    for row in rows:
        print(format_row(row))
    print("\n" + SUMMARY_HEADER)
    for method in METHODS:
        if method_rows := [row for row in rows if row["method"] == method]:
            print(summary_row(method, method_rows))


if __name__ == "__main__":
    main()
