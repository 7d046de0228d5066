"""``priormatch train``: pretrain a method and write a run directory."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from priormatch.errors import PriormatchError
from priormatch.training.config import RunConfig, config_to_yaml, load_run_config, raw_config, resolve_config
from priormatch.training.experiment import config_data_kind
from priormatch.training.loop import prepare_run, train
from priormatch.training.run_dir import RunDirectory, existing_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="pretrain an encoder (MSN, PMSN, ...) and write a run directory",
        description=(
            "Pretrain an encoder. Configuration: typed defaults, then --config YAML files, then "
            "dotted overrides such as method.name=pmsn method.tau=0.5 data.imbalance_ratio=100. "
            "Prints the run directory as its last line."
        ),
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides, e.g. train.steps=20")
    parser.add_argument("--config", action="append", default=[], type=Path, metavar="FILE", help="YAML config file (repeatable; later files win)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="run directory to create (default: runs/<data>-<method>-s<seed>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    parser.set_defaults(handler=run)


def default_run_path(config: RunConfig) -> Path:
    data = config.data.name.replace(":", "-").replace("/", "-")
    return Path("runs") / f"{data}-{config.method.name}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise PriormatchError(f"--out {path} already exists and is not empty; choose another directory or use --resume {path}")


def run(args: argparse.Namespace) -> int:
    if args.resume is not None:
        if args.overrides or args.config:
            raise PriormatchError("--resume continues a run with its saved config; drop the overrides and --config")
        run_dir = existing_run(args.resume)
        if run_dir.is_complete():
            print(f"run {run_dir.root} is already complete")
        else:
            config = load_run_config(run_dir.config, data_kind=config_data_kind)
            train(config, run_dir, resume=run_dir.checkpoint.is_file())
        print(run_dir.root)
        return 0
    config = resolve_config(raw_config(args.config, args.overrides), data_kind=config_data_kind)
    if args.show_config:
        print(config_to_yaml(config), end="")
        return 0
    prepared = prepare_run(config)  # validates data, sampler and model before anything is written
    out = args.out or default_run_path(config)
    _check_new_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = train(config, RunDirectory(out), prepared=prepared)
    print(run_dir.root)
    return 0
