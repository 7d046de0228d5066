"""``priormatch prototypes``: prototype gallery and usage-vs-prior plot for any prototype run."""

from __future__ import annotations

import argparse
from pathlib import Path

from priormatch.validation import check_creatable_directory, check_int_at_least


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prototypes",
        help="draw a prototype gallery and prototype usage vs the prior for a finished MSN / PMSN / SwAV run",
        description=(
            "Rebuild the run's method from config.yaml and checkpoint.pt, assign training images to its prototypes, "
            "and write gallery.png (the most used prototypes with their most probable images) and usage.png "
            "(usage sorted by rank vs the prior, log-log) into --out (default RUN_DIR/prototypes)."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output directory (default: RUN_DIR/prototypes)")
    parser.add_argument("--prototypes", type=int, default=8, metavar="N", help="prototypes in the gallery (default 8)")
    parser.add_argument("--images", type=int, default=10, metavar="N", help="images per prototype (default 10)")
    parser.add_argument("--analysis-images", type=int, default=3000, metavar="N", help="training images to assign (default 3000)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for option, value in (("--prototypes", args.prototypes), ("--images", args.images), ("--analysis-images", args.analysis_images)):
        check_int_at_least(option, value, 1)
    out = args.out or args.run_dir / "prototypes"
    check_creatable_directory("--out", out)
    from priormatch.diagnose.figures.gallery import gallery_figure
    from priormatch.diagnose.figures.usage import UsageCurve, usage_figure
    from priormatch.diagnose.prototypes import analyse_run

    analysis = analyse_run(args.run_dir, max_images=args.analysis_images)
    out.mkdir(parents=True, exist_ok=True)
    label = args.run_dir.name
    (out / "gallery.png").write_bytes(gallery_figure([(label, analysis)], prototypes=args.prototypes, images=args.images))
    (out / "usage.png").write_bytes(usage_figure([UsageCurve(label, analysis.usage, analysis.prior)]))
    in_use = int((analysis.hard_counts > 0).sum())
    print(
        f"{in_use}/{len(analysis.usage)} prototypes in use; usage entropy {analysis.normalised_entropy():.2f} of log K; "
        f"purity of the top {args.prototypes} prototypes {100 * analysis.purity(args.prototypes, args.images):.0f}%"
    )
    print(out)
    return 0
