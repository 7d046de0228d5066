"""Wall time of ``priormatch evaluate`` on a series run with 7,000 train series (issue: <= 60 s on 2 cores).

The data: the first 7,000 train series of UCR ElectricDevices (7 classes, length 96) and its 7,711
test series, written as an ``.npz``; a short run trains on it (its accuracy is not the point), then
``priormatch evaluate`` runs with the series default protocol (SVM and linear probe on the trained
and untrained encoder and on the raw input, kNN on the baselines) and prints one line per probe.
``--svm-search-samples none`` runs TS2Vec's exact search on all 7,000 rows instead (slow: its
C = inf fits do not converge, see docs/benchmarks.md).

    python benchmarks/evaluate_time.py                       # default protocol
    python benchmarks/evaluate_time.py --svm-search-samples none --timeout 3600
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from priormatch.data import load_ucr


def write_npz(path: Path, train_series: int) -> None:
    splits = load_ucr("ElectricDevices")
    np.savez(
        path, X=splits.train.x[:train_series], y=splits.train.y[:train_series], X_test=splits.test.x, y_test=splits.test.y, kind="series"
    )


def timed(command: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-series", type=int, default=7000)
    parser.add_argument("--svm-search-samples", default="2000", help="eval.svm_search_samples (none: all rows)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the evaluation")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data, run = Path(folder) / "electric.npz", Path(folder) / "run"
        write_npz(data, args.train_series)
        search = "null" if args.svm_search_samples.lower() == "none" else args.svm_search_samples
        train = [
            sys.executable,
            "-m",
            "priormatch",
            "train",
            "data.name=npz",
            f"data.path={data}",
            "train.steps=20",
            "train.batch_size=64",
            "train.progress=false",
            "train.num_threads=1",
            f"eval.svm_search_samples={search}",
            "--out",
            str(run),
        ]
        seconds, done = timed(train, args.timeout)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        print(f"train (20 steps): {seconds:.1f} s; load average {os.getloadavg()[0]:.2f}")
        evaluate = [sys.executable, "-m", "priormatch", "evaluate", str(run)]
        environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        start = time.perf_counter()
        done = subprocess.run(evaluate, capture_output=True, text=True, timeout=args.timeout, env=environment)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        print("\n".join(line for line in done.stderr.splitlines() if line.startswith("evaluate")))
        print(
            f"evaluate on {args.train_series} train series, eval.svm_search_samples={search}: {seconds:.1f} s wall; "
            f"load average {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
