"""What ``priormatch train`` does (its parser is :mod:`priormatch.cli.train_command`): pretrain a
method and write a run directory. Imported by the handler only, so ``priormatch --help`` does not
load torch.

The run directory's lock (:mod:`priormatch.training.run_lock`) is held for the whole training by
the launching process: rank 0 (one process, or under torchrun) or the parent of ``--nproc N``.
SIGINT / SIGTERM end training at a step boundary with a checkpoint; the command then prints how
to resume and exits with 128 + the signal number.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from priormatch import distributed
from priormatch.errors import PriormatchError
from priormatch.training.config import RunConfig, config_to_yaml, load_run_config, raw_config, resolve_config
from priormatch.training.distributed_setup import (
    launch_local,
    launched_rank,
    launched_world_size,
    on_rank_zero,
    process_group_from_env,
)
from priormatch.training.experiment import config_data_kind, describe_data
from priormatch.training.interruption import StopRequest, TrainingInterrupted, handling_stop_signals, stop_on_signals
from priormatch.training.loop import prepare_run, resolve_device, train
from priormatch.training.run_dir import RunDirectory, existing_run
from priormatch.training.run_lock import LOCK_NAME, run_lock
from priormatch.training.views import check_view_sizes
from priormatch.validation import check_creatable_directory


def default_run_path(config: RunConfig) -> Path:
    data = config.data.name.replace(":", "-").replace("/", "-")
    return Path("runs") / f"{data}-{config.method.name}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def _check_new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(entry.name != LOCK_NAME for entry in path.iterdir())):
        raise PriormatchError(f"--out {path} already exists and is not empty; choose another directory or use --resume {path}")


def _check_out_path(path: Path) -> None:
    """``--out`` (or the default run path) must be creatable: absent or an empty directory, under
    a writable directory. Checked before the data are loaded, so nothing is written for a bad path."""
    _check_new_directory(path)
    check_creatable_directory("--out", path)


def _make_directory(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PriormatchError(f"--out {path} cannot be created ({error.strerror}); choose another --out") from None


def _create_run_directory(path: Path, held: contextlib.ExitStack) -> Path:
    """Create ``path`` (absent or empty) and take its lock into ``held``. Emptiness is checked again
    under the lock, so of two trainings started into one empty directory only one writes it."""
    _check_new_directory(path)
    _make_directory(path)
    held.enter_context(run_lock(path, purpose="train"))
    _check_new_directory(path)
    return path


def _lock_for_resume(run_dir: RunDirectory, held: contextlib.ExitStack) -> None:
    """Take ``run_dir``'s lock into ``held``; then it must have a checkpoint to continue from."""
    held.enter_context(run_lock(run_dir.root, purpose="train"))
    if not run_dir.checkpoint.is_file():
        raise PriormatchError(
            f"--resume {run_dir.root}: nothing to resume, it has no {run_dir.checkpoint.name} (training stopped before "
            "its first checkpoint); start a new run with `priormatch train --config ... --out NEW_DIR`"
        )


def _check_nproc(nproc: int) -> None:
    if nproc < 1:
        raise PriormatchError(f"--nproc={nproc} must be >= 1")
    if nproc > 1 and launched_world_size() > 1:
        raise PriormatchError("--nproc starts its own processes; under torchrun drop --nproc (torchrun's --nproc_per_node sets it)")


def _train_here(config: RunConfig, run_dir: RunDirectory, *, resume: bool = False, prepared: tuple | None = None) -> None:
    """``train`` in this process; SIGINT / SIGTERM stop it at a step boundary (TrainingInterrupted).
    Ranks of a process group all receive the signal, so a repeated one does not force them out."""
    with stop_on_signals(repeat_forces=not distributed.is_distributed()) as stop:
        train(config, run_dir, resume=resume, prepared=prepared, stop=stop)


def _train_worker(config: RunConfig, root: Path, resume: bool) -> None:
    """One process of ``--nproc N`` (module level: it is pickled by the launcher). An interrupted
    worker returns normally; the parent sees the incomplete run and reports the interruption."""
    with process_group_from_env(resolve_device(config.train.device)):
        with contextlib.suppress(TrainingInterrupted):
            _train_here(config, RunDirectory(root), resume=resume)


@contextlib.contextmanager
def _forwarding_signals() -> Iterator[StopRequest]:
    """While open, SIGINT / SIGTERM are recorded and passed on to this process's children (the
    ``--nproc`` workers), which stop at a step boundary; the parent keeps waiting for them."""
    request = StopRequest()

    def forward(number: int, frame: object) -> None:
        request.signal_number = request.signal_number or number
        for child in multiprocessing.active_children():
            assert child.pid is not None  # active children have started
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, number)

    with handling_stop_signals(forward):
        yield request


def _launch_workers(nproc: int, config: RunConfig, root: Path, *, resume: bool) -> None:
    """Train in ``nproc`` local processes (the caller holds the lock); an incomplete run afterwards
    means they were interrupted."""
    with _forwarding_signals() as stop:
        launch_local(nproc, _train_worker, config, root, resume)
    run_dir = RunDirectory(root)
    if not run_dir.is_complete():
        step = run_dir.status().get("step", 0)
        raise TrainingInterrupted(stop.signal_number or signal.SIGTERM, run_dir, step if isinstance(step, int) else 0)


def _resume(config: RunConfig, run_dir: RunDirectory, *, nproc: int) -> None:
    """Continue here (one process, or one rank under torchrun) or in ``nproc`` new local processes."""
    if nproc > 1:
        with contextlib.ExitStack() as held:
            _lock_for_resume(run_dir, held)
            _launch_workers(nproc, config, run_dir.root, resume=True)
        return
    with process_group_from_env(resolve_device(config.train.device)), contextlib.ExitStack() as held:
        on_rank_zero(lambda: _lock_for_resume(run_dir, held))  # rank 0 holds the lock; its error reaches every rank
        _train_here(config, run_dir, resume=True)


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
    out_path = args.out or default_run_path(config)
    world_size = max(args.nproc, launched_world_size())
    resolve_device(config.train.device)  # e.g. train.device=cuda without a GPU
    if launched_rank() == 0:
        _check_out_path(out_path)
    prepared = prepare_run(config, world_size=world_size)  # validates data, sampler and model before anything is written
    check_view_sizes(config, prepared[0].train, prepared[1])
    _print_on_rank_zero(describe_data(prepared[0]))
    if args.nproc > 1:  # the workers build their own copies of the data and model
        with contextlib.ExitStack() as held:
            out = _create_run_directory(out_path, held)
            _launch_workers(args.nproc, config, out, resume=False)
    else:  # one process, or one rank under torchrun
        with process_group_from_env(resolve_device(config.train.device)), contextlib.ExitStack() as held:
            out = on_rank_zero(lambda: _create_run_directory(out_path, held))  # one name for all ranks
            _train_here(config, RunDirectory(out), prepared=prepared)
    _print_on_rank_zero(out)
    return 0


def run_reporting_interruption(args: argparse.Namespace) -> int:
    """:func:`run`; a training stopped by a signal prints the resume command (one line on stderr)
    and returns 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    try:
        return run(args)
    except TrainingInterrupted as interruption:
        if launched_rank() == 0:
            name = signal.Signals(interruption.signal_number).name
            print(
                f"priormatch: interrupted by {name} at step {interruption.step}, checkpoint written; "
                f"continue with `priormatch train --resume {interruption.run.root}`",
                file=sys.stderr,
            )
        return interruption.exit_status
