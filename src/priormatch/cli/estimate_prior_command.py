"""``priormatch estimate-prior``: a PMSN prior estimated from a finished run's features, without labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from priormatch.errors import PriormatchError
from priormatch.validation import check_choice, check_int_at_least

DEFAULT_PROTOTYPES = 1024


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate-prior",
        help="estimate a power-law prior for PMSN from a finished run's features (no labels used)",
        description=(
            "Extract the run's frozen features of its pretraining data, cluster them (Gaussian mixture or k-means), "
            "sort the cluster sizes and fit tau of pi_k ~ k^-tau by maximum likelihood. Prints tau and the overrides "
            "that train PMSN with it; --out writes the measured size profile over K prototypes as a .npy prior "
            "(method.prior=PATH.npy). The labels are never used for the estimate, only printed for reference."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--clusters", type=int, default=20, metavar="C", help="number of clusters (default 20)")
    parser.add_argument(
        "--clustering", default="gmm", metavar="MODEL", help="clustering model: gmm (Gaussian mixture, the default) or kmeans"
    )
    parser.add_argument("--samples", type=int, default=5000, metavar="N", help="pretraining samples clustered (default 5000, at least 2)")
    parser.add_argument(
        "--prototypes",
        type=int,
        metavar="K",
        help="number of prototypes K the printed tau and the --out prior are for (default: the run's num_prototypes, else 1024)",
    )
    parser.add_argument("--out", type=Path, metavar="PRIOR.npy", help="write the size profile over K prototypes here")
    parser.add_argument("--seed", type=int, default=0, help="sampling and clustering seed (default 0)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None and args.out.suffix != ".npy":
        raise PriormatchError(f"--out {args.out}: the prior is written as a .npy file; give a path ending in .npy")
    if args.prototypes is not None:
        check_int_at_least("--prototypes", args.prototypes, 2)
    from priormatch.evaluation.run_prior import estimate_run_prior
    from priormatch.prior_estimation import CLUSTERINGS, fit_power_law_exponent
    from priormatch.training.checkpoint import save_npy_atomic

    check_choice("--clustering", args.clustering, CLUSTERINGS)
    result = estimate_run_prior(args.run_dir, args.clusters, samples=args.samples, clustering=args.clustering, seed=args.seed)
    estimate, class_counts = result.estimate, result.class_counts
    k = args.prototypes or int(getattr(result.config.method, "num_prototypes", DEFAULT_PROTOTYPES))
    tau_k = estimate.prototype_tau(k)
    print(f"cluster sizes ({args.clustering}, {int(estimate.sizes.sum())} samples): {estimate.sizes.tolist()}")
    print(
        f"estimated tau = {estimate.tau:.3f} over {len(estimate.sizes)} clusters, {tau_k:.3f} over {k} prototypes  ->  "
        f"method.name=pmsn method.num_prototypes={k} method.prior=power_law method.tau={tau_k:.3f}"
    )
    print(
        f"reference, from the labels (not used above): class counts {class_counts.tolist()}, tau {fit_power_law_exponent(class_counts):.3f} over the classes"
    )
    if args.out is not None:
        save_npy_atomic(estimate.profile(k).numpy(), args.out)
        print(f"wrote {args.out} ({k} prototypes)  ->  method.name=pmsn method.prior={args.out}")
    return 0
