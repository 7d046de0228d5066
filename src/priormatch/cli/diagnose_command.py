"""``priormatch diagnose``: the paper's experiments on one data set, with a report."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from priormatch.diagnose.config import DEFAULT_PRESET, PRESETS, load_diagnose_config
from priormatch.diagnose.pipeline import run_diagnose


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="run the paper's experiments (batch composition, prior matching, overlay toy) and write a report",
        description=(
            "Pretrain and evaluate every cell of the selected experiments over several seeds, then write "
            "DIR/report.html (self-contained) and DIR/report.md with tables, figures and a verdict per experiment. "
            "Runs are cached in DIR/runs by a hash of their config: rerunning reuses finished runs and resumes "
            "interrupted ones. Presets: smoke (< 1 min, for tests), quick (the default, ~5 min on 2 quiet CPU cores), "
            "full (sized for a GPU), series (the first two experiments on time series, ~5 min). Overrides change the preset, e.g. seeds=5, experiments=[prior_matching], "
            "base.train.epochs=20, method_overrides.msn.num_prototypes=128, prior_matching.taus=[0.1,0.5]."
        ),
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides of the diagnose config")
    parser.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME", help=f"{' | '.join(PRESETS)} or a YAML file (default: {DEFAULT_PRESET})")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output directory (default: runs/diagnose-<preset>)")
    parser.add_argument("--workers", type=int, metavar="N", help="parallel training processes (default: the usable CPU cores)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + ([f"workers={args.workers}"] if args.workers is not None else [])
    config = load_diagnose_config(args.preset, overrides)
    out = args.out or Path("runs") / f"diagnose-{Path(args.preset).stem}"
    command = shlex.join(["priormatch", "diagnose", *sys.argv[2:]]) if sys.argv[1:2] == ["diagnose"] else ""
    try:
        run_diagnose(config, out, command=command)
    except KeyboardInterrupt:
        print(f"priormatch: interrupted; run the same command again to resume (finished runs in {out}/runs are reused)", file=sys.stderr)
        return 130
    return 0
