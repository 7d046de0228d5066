"""``priormatch train``: pretrain a method and write a run directory."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from priormatch.errors import PriormatchError
from priormatch.training.config import RunConfig, config_to_yaml, load_run_config, raw_config, resolve_config
from priormatch.training.distributed_setup import (
    launch_local,
    launched_rank,
    launched_world_size,
    on_rank_zero,
    process_group_from_env,
)
from priormatch.training.experiment import config_data_kind
from priormatch.training.loop import prepare_run, resolve_device, train
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
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train with N local DDP processes (gloo on CPU, NCCL on GPU; train.batch_size is the global batch, "
        "split over them); for several nodes launch with torchrun instead (docs/distributed.md)",
    )
    parser.set_defaults(handler=run)


def default_run_path(config: RunConfig) -> Path:
    data = config.data.name.replace(":", "-").replace("/", "-")
    return Path("runs") / f"{data}-{config.method.name}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise PriormatchError(f"--out {path} already exists and is not empty; choose another directory or use --resume {path}")


def _create_run_directory(path: Path) -> Path:
    _check_new_directory(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_nproc(nproc: int) -> None:
    if nproc < 1:
        raise PriormatchError(f"--nproc={nproc} must be >= 1")
    if nproc > 1 and launched_world_size() > 1:
        raise PriormatchError("--nproc starts its own processes; under torchrun drop --nproc (torchrun's --nproc_per_node sets it)")


def _train_worker(config: RunConfig, root: Path, resume: bool) -> None:
    """One process of ``--nproc N`` (module level: it is pickled by the launcher)."""
    with process_group_from_env(resolve_device(config.train.device)):
        train(config, RunDirectory(root), resume=resume)


def _resume(config: RunConfig, run_dir: RunDirectory, *, nproc: int) -> None:
    """Continue here (one process, or one rank under torchrun) or in ``nproc`` new local processes."""
    resume = run_dir.checkpoint.is_file()
    if nproc > 1:
        launch_local(nproc, _train_worker, config, run_dir.root, resume)
    else:
        _train_worker(config, run_dir.root, resume)


def _print_on_rank_zero(text: str | Path) -> None:
    if launched_rank() == 0:  # under torchrun every rank runs this command
        print(text)


def run(args: argparse.Namespace) -> int:
    _check_nproc(args.nproc)
    if args.resume is not None:
        if args.overrides or args.config:
            raise PriormatchError("--resume continues a run with its saved config; drop the overrides and --config")
        run_dir = existing_run(args.resume)
        if run_dir.is_complete():
            _print_on_rank_zero(f"run {run_dir.root} is already complete")
        else:
            config = load_run_config(run_dir.config, data_kind=config_data_kind)
            _resume(config, run_dir, nproc=args.nproc)
        _print_on_rank_zero(run_dir.root)
        return 0
    config = resolve_config(raw_config(args.config, args.overrides), data_kind=config_data_kind)
    if args.show_config:
        print(config_to_yaml(config), end="")
        return 0
    world_size = max(args.nproc, launched_world_size())
    prepared = prepare_run(config, world_size=world_size)  # validates data, sampler and model before anything is written
    if args.nproc > 1:  # the workers build their own copies of the data and model
        out = _create_run_directory(args.out or default_run_path(config))
        launch_local(args.nproc, _train_worker, config, out, False)
    else:  # one process, or one rank under torchrun
        with process_group_from_env(resolve_device(config.train.device)):
            out = on_rank_zero(lambda: _create_run_directory(args.out or default_run_path(config)))  # one name for all ranks
            train(config, RunDirectory(out), prepared=prepared)
    _print_on_rank_zero(out)
    return 0
