"""Label-free prior estimation on the real-result runs: does the estimated tau track the data's imbalance?

For each finished run of ``benchmarks/real_result.py`` (Fashion-MNIST subsets of 5,000 images,
balanced or long-tailed with rho = 100; MSN and PMSN tau = 1; seeds 0-2), extract the run's frozen
features of its pretraining images, cluster them (Gaussian mixture, C clusters), and fit the
power-law exponent of the sorted cluster sizes (:func:`priormatch.estimate_prior`). The labels are
used only for the reference column: the exponent fitted to the true class counts.

``--train`` closes the loop without labels: for each seed, tau is estimated (C = the first
``--clusters`` value) from that seed's MSN run on the long-tailed subset, and PMSN is trained with
it on the same subset and seed (``lt100-pmsn_estimated-s<seed>``, the real-result recipe), then
evaluated; the table compares it with MSN and PMSN tau = 1 on the same seeds (trained first where
missing, so ``--train`` needs no earlier run).

    python benchmarks/real_result.py --jobs 2          # the runs (once)
    python benchmarks/prior_estimation.py --clusters 10 20
    python benchmarks/prior_estimation.py --clusters 10 --train --jobs 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from priormatch import fit_power_law_exponent
from priormatch.evaluation.run_prior import estimate_run_prior

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_result import DATA, ROOT, Run, paired_differences, planned_runs, run_all, table  # noqa: E402

ESTIMATED = "pmsn_estimated"
ARMS = ("msn", "pmsn_tau1")
SUBSETS = ("balanced", "lt100")


def estimated_and_true_tau(run_dir: Path, clusters: int, samples: int, seed: int) -> tuple[float, float]:
    """(tau of the clustered features, tau of the true class counts) for one run's pretraining subset."""
    result = estimate_run_prior(run_dir, clusters, samples=samples, seed=seed)
    return result.estimate.tau, fit_power_law_exponent(result.class_counts)


def estimated_prior_run(seed: int, clusters: int, samples: int) -> Run:
    """PMSN on the long-tailed subset with tau estimated from the same seed's MSN run (no labels)."""
    tau, _ = estimated_and_true_tau(ROOT / f"lt100-msn-s{seed}", clusters, samples, seed=0)
    overrides = (*DATA["lt100"], "method.name=pmsn", "method.prior=power_law", f"method.tau={tau:.3f}")
    print(f"seed {seed}: estimated tau {tau:.3f}", flush=True)
    return Run(ESTIMATED, "lt100", seed, overrides)


def train_with_estimates(seeds: list[int], clusters: int, samples: int, jobs: int) -> None:
    """Estimate, train, evaluate; print the comparison with MSN and PMSN tau = 1 on the same seeds.

    The baselines (MSN and PMSN tau = 1 on the long-tailed subset) are trained first where missing:
    the estimate needs the MSN runs, the table needs both.
    """
    baselines = [run for run in planned_runs(include_reference=False) if run.data == "lt100" and run.method in ARMS and run.seed in seeds]
    run_all(baselines, jobs)
    runs = [estimated_prior_run(seed, clusters, samples) for seed in seeds]
    run_all(runs, jobs)
    print(table(baselines + runs))
    print(paired_differences(baselines + runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train", action="store_true", help="train and evaluate PMSN with the estimated tau")
    parser.add_argument("--jobs", type=int, default=2, help="training runs side by side (with --train)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.train:
        train_with_estimates(args.seeds, args.clusters[0], args.samples, args.jobs)
        return
    print("| features of | pretraining data | true tau (labels) | " + " | ".join(f"estimated tau, C={c}" for c in args.clusters) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in args.clusters) + " |")
    for arm in ARMS:
        for subset in SUBSETS:
            runs = [ROOT / f"{subset}-{arm}-s{seed}" for seed in args.seeds]
            runs = [run for run in runs if (run / "encoder.pt").is_file()]
            if not runs:
                continue
            cells, true_tau = [], 0.0
            for clusters in args.clusters:
                taus = []
                for run in runs:
                    estimated, true_tau = estimated_and_true_tau(run, clusters, args.samples, seed=0)
                    taus.append(estimated)
                cells.append(f"{np.mean(taus):.2f} ± {np.std(taus, ddof=1) if len(taus) > 1 else 0:.2f}")
            print(f"| {arm} ({len(runs)} seeds) | {subset} | {true_tau:.2f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
