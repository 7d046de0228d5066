"""The training loop: reads like the algorithm, knows nothing about the method it runs.

Every random choice of a step (augmentations, masks) comes from a generator seeded by
(seed, step, rank) and the data order from (seed, epoch), and schedules are functions of the
step; so a run resumed from a checkpoint continues exactly as if it had never stopped.

Under DDP (``torch.distributed`` initialised, see :mod:`priormatch.training.distributed_setup`)
each rank trains on its slice of the global batch through the DDP-wrapped method; rank 0 alone
writes the run directory, every rank can resume from its checkpoint.

A :class:`~priormatch.training.interruption.StopRequest` ends training at the next step
boundary: the step in flight finishes, a checkpoint of the boundary is written, and
:class:`~priormatch.training.interruption.TrainingInterrupted` is raised; ``--resume`` then
continues exactly.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from priormatch import distributed
from priormatch.data import batch_indices, rank_slice
from priormatch.errors import PriormatchError
from priormatch.methods import MethodOutput, SSLMethod
from priormatch.training.checkpoint import (
    checkpoint_entry,
    load_checkpoint,
    load_weights,
    save_atomic,
    write_json_atomic,
    write_text_atomic,
)
from priormatch.training.config import RunConfig, config_to_yaml
from priormatch.training.distributed_setup import average_over_ranks, barrier, wrap_for_ddp
from priormatch.training.experiment import PretrainingData, build_model, make_sampler, prepare_data, total_steps
from priormatch.training.interruption import StopRequest, TrainingInterrupted, requested_stop
from priormatch.training.optimizer import make_optimizer, set_hyperparameters
from priormatch.training.precision import autocast, resolved_precision
from priormatch.training.run_dir import RunDirectory
from priormatch.training.schedules import cosine_increase, cosine_with_warmup, ema_initial_weight, linear, short_run_momentum
from priormatch.training.views import make_views, step_views


@dataclass
class TrainingState:
    """Everything a run needs to continue: model, optimizer and the next step."""

    method: SSLMethod
    optimizer: torch.optim.Optimizer
    step: int = 0

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "method": self.method.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any], *, path: Path) -> None:
        """Restore from ``state`` (loaded from ``path``); a checkpoint of another architecture is a
        one-line error."""
        fix = "resume with the config.yaml this checkpoint was trained with, or start a new run with --out"
        load_weights(self.method, checkpoint_entry(state, "method", path), path=path, fix=fix)
        load_weights(self.optimizer, checkpoint_entry(state, "optimizer", path), path=path, fix=fix)
        step = checkpoint_entry(state, "step", path)
        if not isinstance(step, int) or step < 0:
            raise PriormatchError(f"checkpoint {path} has step={step!r}, not a step count; re-train the run")
        self.step = step


def step_seed(seed: int, step: int, rank: int) -> int:
    """A well-mixed 63-bit seed for one step on one rank."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PriormatchError("train.device=cuda but no CUDA device is available; use train.device=cpu")
    if name not in ("cpu", "cuda"):
        raise PriormatchError(f"train.device={name!r} must be auto, cpu or cuda")
    return torch.device(name)


def schedules(config: RunConfig, method: SSLMethod, step: int, steps: int) -> dict[str, float]:
    """Learning rate, weight decay and, for a method with an EMA teacher, its momentum at ``step`` of ``steps``."""
    train = config.train
    values = {
        "lr": cosine_with_warmup(step, steps, peak=train.lr, final=train.min_lr, warmup_steps=int(train.warmup_fraction * steps)),
        "weight_decay": cosine_increase(step, steps, start=train.weight_decay, end=train.weight_decay_end),
    }
    momentum_range = method.teacher_momentum_range()
    if momentum_range is not None:
        values["ema_momentum"] = linear(step, steps, start=momentum_range[0], end=momentum_range[1])
    return values


STATIC_TEACHER = 0.5  # warn when the EMA teacher would end with more than this weight on its initialisation


def warn_if_static_teacher(config: RunConfig, method: SSLMethod, steps: int) -> None:
    """Warn when ``steps`` are too few for the EMA momentum of a method that evaluates its teacher
    (MSN, PMSN): the evaluated encoder would stay near its random initialisation. The fix is in the message."""
    momentum_range = method.teacher_momentum_range()
    if momentum_range is None or method.evaluation_encoder() is method.encoder:
        return
    kept = ema_initial_weight(steps, start=momentum_range[0], end=momentum_range[1])
    if kept > STATIC_TEACHER:
        warnings.warn(
            f"method.ema_momentum={momentum_range[0]:g} over {steps} steps leaves the EMA teacher, "
            f"the encoder {config.method.name} evaluates, {kept:.0%} at its random initialisation; for a short run "
            f"set method.ema_momentum={short_run_momentum(steps):.3g} (1 - 10 / steps)",
            UserWarning,
            stacklevel=2,
        )


def final_encoder_state(method: SSLMethod, config: RunConfig, data: PretrainingData) -> dict[str, Any]:
    return {
        "encoder_config": config_to_yaml(config),
        "input_shape": list(data.splits.train.input_shape),
        "state_dict": method.evaluation_encoder().state_dict(),
    }


def prepare_run(config: RunConfig, *, world_size: int | None = None) -> tuple[PretrainingData, SSLMethod]:
    """Validate everything a run needs (data, sampler for ``world_size`` ranks, model) before
    anything is written; ``world_size`` defaults to the current process group's."""
    data = prepare_data(config.data)
    ranks = distributed.world_size() if world_size is None else world_size
    if config.train.batch_size % ranks:
        raise PriormatchError(
            f"train.batch_size={config.train.batch_size} (the global batch) does not split over {ranks} processes; "
            f"use a multiple of {ranks}"
        )
    make_sampler(config.data, data.mechanism_labels[data.subset], batch_size=config.train.batch_size, seed=config.seed, world_size=ranks)
    return data, build_model(config, data)


def read_batch(x: np.ndarray, indices: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, ...) rows ``indices`` of ``x`` on ``device``; reads only those rows, so ``x`` may be an
    ``np.memmap`` larger than memory."""
    return torch.from_numpy(np.ascontiguousarray(x[indices])).to(device, non_blocking=True)


def optimizer_step(
    model: nn.Module,
    state: TrainingState,
    views: tuple[list[torch.Tensor], list[torch.Tensor]],
    *,
    generator: torch.Generator,
    grad_clip: float,
    ema_momentum: float | None,
    precision: contextlib.AbstractContextManager | None = None,
) -> MethodOutput:
    """One step: loss through ``model`` (the method or its DDP wrapper), backward (DDP averages
    the gradients over ranks), clipping, the optimizer update, then the EMA teacher update."""
    global_views, focal_views = views
    with precision if precision is not None else contextlib.nullcontext():
        output = model(global_views, focal_views, generator=generator)
    if not torch.isfinite(output.loss):
        raise PriormatchError(f"loss became {output.loss.item()} at step {state.step}; lower train.lr or check the data for outliers")
    state.optimizer.zero_grad(set_to_none=True)
    output.loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(state.method.parameters(), grad_clip)
    state.optimizer.step()
    if state.method.uses_teacher:
        state.method.update_teacher(ema_momentum)
    return output


def train(
    config: RunConfig,
    run: RunDirectory,
    *,
    resume: bool = False,
    prepared: tuple[PretrainingData, SSLMethod] | None = None,
    stop_at_step: int | None = None,
    stop: StopRequest | None = None,
) -> RunDirectory:
    """Pretrain ``config``'s method and write ``run``; ``resume`` continues from its checkpoint.

    ``stop_at_step`` ends this session after that many steps with a resumable checkpoint, as a
    pre-empted job would (the run stays incomplete). When ``stop`` is set (by a signal, see
    :func:`stop_on_signals`) training ends at the next step boundary with a checkpoint and
    raises :class:`TrainingInterrupted`. The caller holds the run's lock (``run_lock``).
    """
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    rank, world_size = distributed.rank(), distributed.world_size()
    device = resolve_device(config.train.device)
    precision = resolved_precision(config.train.precision, config.encoder.name, device)
    data, method = prepared or prepare_run(config)
    train_set = data.train
    sampler = make_sampler(
        config.data, data.mechanism_labels[data.subset], batch_size=config.train.batch_size, seed=config.seed, world_size=world_size
    )
    steps = total_steps(config, sampler.batches_per_epoch, train_set)
    if rank == 0 and not resume:
        warn_if_static_teacher(config, method, steps)
        if config.train.precision == "auto":
            print(f"train.precision=auto: {precision} for encoder {config.encoder.name} on {device.type}", file=sys.stderr)
        if config.train.steps is None and config.train.epochs is None:
            values = f"{train_set.x.size:,}"
            print(f"train.epochs=null: {steps} steps, the {train_set.kind} recipe's rule for {values} train values", file=sys.stderr)
    views = make_views(config, train_set, method.encoder)
    method.to(device)
    state = TrainingState(method, make_optimizer(method, lr=config.train.lr, weight_decay=config.train.weight_decay))
    if resume:  # every rank loads the checkpoint
        state.load_state_dict(load_checkpoint(run.checkpoint, map_location=device), path=run.checkpoint)
        if state.step > steps:
            raise PriormatchError(
                f"checkpoint {run.checkpoint} is at step {state.step} but this run has {steps} steps; "
                "it belongs to another run: resume that run, or start a new one with --out"
            )
        if rank == 0:  # the steps after the checkpoint are re-run: drop their records and a torn line
            run.repair_metrics(through_step=state.step)
    elif rank == 0:
        write_text_atomic(config_to_yaml(config), run.config)
        write_json_atomic(data.summary(), run.data_summary)
        run.metrics.unlink(missing_ok=True)
    if rank == 0:
        run.mark("running", step=state.step, total_steps=steps)
    model = wrap_for_ddp(method, device)  # the method itself in a single process

    inputs = train_set.x  # an array or np.memmap; each step reads only its rows
    end = steps if stop_at_step is None else min(steps, stop_at_step)
    bar = tqdm(
        total=steps * config.train.batch_size,
        initial=state.step * config.train.batch_size,
        disable=not config.train.progress or rank != 0,
        desc="train",
        unit="img" if train_set.kind == "image" else "series",
        unit_scale=True,
        mininterval=1.0,
    )
    method.train()
    last_log = time.perf_counter()
    samples_since_log = 0
    while state.step < end:
        signal_number = requested_stop(stop, device)
        if signal_number is not None:
            _save_interrupted(run, state, steps, rank=rank, bar=bar)
            raise TrainingInterrupted(signal_number, run, state.step)
        step = state.step
        hyper = schedules(config, state.method, step, steps)
        set_hyperparameters(state.optimizer, lr=hyper["lr"], weight_decay=hyper["weight_decay"])
        generator = torch.Generator(device=device).manual_seed(step_seed(config.seed, step, rank))
        indices = rank_slice(batch_indices(sampler, step), rank, world_size)
        batch = read_batch(inputs, indices, device)
        views_of_step = step_views(views, batch, method.view_spec, generator)
        output = optimizer_step(
            model,
            state,
            views_of_step,
            generator=generator,
            grad_clip=config.train.grad_clip,
            ema_momentum=hyper.get("ema_momentum"),
            precision=autocast(precision, device),
        )
        state.step += 1
        samples_since_log += len(indices) * world_size

        bar.update(config.train.batch_size)
        bar.set_postfix(loss=f"{output.metrics.get('loss', output.loss.item()):.3f}", **_postfix(output.metrics))
        if state.step % config.train.log_every == 0 or state.step == steps:
            metrics = average_over_ranks(output.metrics, device)  # a collective: every rank joins
            now = time.perf_counter()
            if rank == 0:
                run.append_metrics(
                    {
                        "step": state.step,
                        "epoch": step // sampler.batches_per_epoch,
                        **hyper,
                        **metrics,
                        "samples_per_s": samples_since_log / max(now - last_log, 1e-9),
                    }
                )
            last_log, samples_since_log = now, 0
        if rank == 0 and (state.step % config.train.checkpoint_every == 0 or state.step == end):
            save_atomic(state.state_dict(), run.checkpoint)
            run.mark("running", step=state.step, total_steps=steps)
    bar.close()
    if rank == 0 and state.step == steps:
        save_atomic(final_encoder_state(method, config, data), run.encoder)
        run.mark("complete", step=state.step, total_steps=steps)
    barrier()  # no rank returns before rank 0 has written the run directory
    return run


def _save_interrupted(run: RunDirectory, state: TrainingState, steps: int, *, rank: int, bar: tqdm) -> None:
    """Checkpoint the current step boundary (rank 0) before a signal ends training; every rank waits."""
    bar.close()
    if rank == 0:
        save_atomic(state.state_dict(), run.checkpoint)
        run.mark("running", step=state.step, total_steps=steps)
    barrier()


def _postfix(metrics: dict[str, float]) -> dict[str, str]:
    shown = {}
    if "prototypes_in_use" in metrics:
        shown["protos"] = f"{metrics['prototypes_in_use']:.0f}"
    return shown
