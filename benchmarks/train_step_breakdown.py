"""Benchmark: where one PMSN training step spends its time, against the bare encoder.

Default recipe: Fashion-MNIST, PMSN, default ViT (patch 7, 16 tokens), 1 target + 1 masked
anchor + 4 focal views, batch 256. One step is replayed phase by phase exactly as
``training/loop.py`` and ``MSN.forward`` run it:

* data:      batch indices from the sampler, gather the images, make the views (augmentation)
* forward:   target encoder+projector (no grad), anchor and focal encoder+projector
* loss:      ``pmsn_terms`` plus the method's logged diagnostics (``.item()``, ``unique``)
* backward:  ``loss.backward()``
* optimizer: schedules, zero_grad, grad-norm clip, AdamW step, EMA teacher update

Baselines on the same views (same images, same number of encoder passes):

* bare encoder: target view forward without grad + masked anchor view and the focal views
  forward and backward, nothing else (the network compute the method cannot avoid);
* encoder + projector: the same, through the projection heads too (for information).

The overhead of the loop is (full step - bare encoder) / bare encoder. A real ``train()`` run
of the same config is timed too, to check that the replayed phases add up to the loop. Steps are
interleaved (full, bare, with-head, ...) and repeated; medians are printed with the load.

    python benchmarks/train_step_breakdown.py                # 2 threads, 20 repeats
    python benchmarks/train_step_breakdown.py --threads 1 --repeats 30 encoder.name=cnn
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from priormatch.data import batch_indices
from priormatch.methods.msn import MSN
from priormatch.objectives import pmsn_terms
from priormatch.training.config import RunConfig, raw_config, resolve_config
from priormatch.training.experiment import build_model, config_data_kind, make_sampler, prepare_data
from priormatch.training.loop import schedules, step_seed, train
from priormatch.training.optimizer import make_optimizer, set_hyperparameters
from priormatch.training.run_dir import RunDirectory
from priormatch.training.views import make_views

PHASES = ("data", "forward", "loss", "backward", "optimizer")

# Wall clock by default; ``--clock cpu`` uses this process's CPU time instead, which a busy shared
# machine distorts far less (with several threads it also counts the threads' spin-waiting).
CLOCK: Callable[[], float] = time.perf_counter


@dataclass
class Bench:
    """Everything one replayed step needs."""

    config: RunConfig
    method: MSN
    optimizer: torch.optim.Optimizer
    sampler: object
    views: Callable
    inputs: Tensor  # (n, C, H, W) pretraining images
    steps: int


def build(config: RunConfig) -> Bench:
    """Data, model, sampler, optimizer and views for ``config``, as ``train()`` builds them."""
    data = prepare_data(config.data)
    method = build_model(config, data)
    if not isinstance(method, MSN):
        raise SystemExit("this breakdown replays MSN/PMSN steps; use method.name=msn or pmsn")
    sampler = make_sampler(config.data, data.train.y, batch_size=config.train.batch_size, seed=config.seed)
    optimizer = make_optimizer(method, lr=config.train.lr, weight_decay=config.train.weight_decay)
    inputs = torch.from_numpy(np.require(data.train.x, requirements=["W"]))
    method.train()
    return Bench(config, method, optimizer, sampler, make_views(config, data.train, method.encoder), inputs, steps=10_000)


def make_batch_views(bench: Bench, step: int) -> tuple[list[Tensor], list[Tensor], torch.Generator]:
    """The data phase of ``step``: indices, gathered images, views, and the step's generator."""
    generator = torch.Generator().manual_seed(step_seed(bench.config.seed, step, 0))
    indices = batch_indices(bench.sampler, step)
    batch = bench.inputs[torch.from_numpy(indices)]
    spec = bench.method.view_spec
    global_views, focal_views = bench.views(batch, num_global=spec.num_global, num_focal=spec.num_focal, generator=generator)
    return global_views, focal_views, generator


def full_step(bench: Bench, step: int) -> dict[str, float]:
    """One training step, phase by phase as the loop and MSN.forward run it; seconds per phase."""
    m, cfg, times = bench.method, bench.method.config, {}
    t0 = CLOCK()
    global_views, focal_views, generator = make_batch_views(bench, step)
    t1 = CLOCK()
    target_view, anchor_view = global_views
    with torch.no_grad():
        targets = m.target_projector(m.target_encoder(target_view))
    anchors = [m.projector(m.encoder(anchor_view, mask_ratio=cfg.mask_ratio, generator=generator))]
    if focal_views:
        anchors.append(m.projector(m.encoder(torch.cat(focal_views))))
    anchors = torch.cat(anchors)
    t2 = CLOCK()
    terms = pmsn_terms(
        anchors,
        targets,
        m.prototypes,
        m.prior,
        temperature=cfg.temperature,
        sharpen_temperature=cfg.sharpen_temperature,
        sinkhorn_iterations=cfg.sinkhorn_iterations,
        sinkhorn_marginals=cfg.sinkhorn_marginals,
        regularization_weight=cfg.regularization_weight,
        kl_direction=getattr(cfg, "kl_direction", "forward"),
    )
    m._diagnostics(terms)
    torch.isfinite(terms.loss).item()
    t3 = CLOCK()
    bench.optimizer.zero_grad(set_to_none=True)
    terms.loss.backward()
    t4 = CLOCK()
    optimizer_phase(bench, step)
    t5 = CLOCK()
    for name, (start, end) in zip(PHASES, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)]):
        times[name] = end - start
    return times


def optimizer_phase(bench: Bench, step: int) -> None:
    """Schedules, gradient clipping, the AdamW step and the EMA teacher update."""
    hyper = schedules(bench.config, step, bench.steps)
    set_hyperparameters(bench.optimizer, lr=hyper["lr"], weight_decay=hyper["weight_decay"])
    if bench.config.train.grad_clip > 0:
        nn.utils.clip_grad_norm_(bench.method.parameters(), bench.config.train.grad_clip)
    bench.optimizer.step()
    bench.method.update_teacher(hyper["ema_momentum"])


def bare_step(bench: Bench, views: tuple[list[Tensor], list[Tensor], torch.Generator], *, with_head: bool) -> float:
    """Seconds for the encoder passes alone (optionally through the projectors) on prepared views."""
    m, (global_views, focal_views, generator) = bench.method, views
    head = m.projector if with_head else nn.Identity()
    target_head = m.target_projector if with_head else nn.Identity()
    start = CLOCK()
    with torch.no_grad():
        target_head(m.target_encoder(global_views[0]))
    outputs = [head(m.encoder(global_views[1], mask_ratio=m.config.mask_ratio, generator=generator))]
    if focal_views:
        outputs.append(head(m.encoder(torch.cat(focal_views))))
    m.zero_grad(set_to_none=True)
    torch.cat(outputs).square().mean().backward()
    return CLOCK() - start


def loop_ms_per_step(config: RunConfig, steps: int, repeats: int = 3, short: int = 2) -> float:
    """ms per step of the real ``train()``: median over ``repeats`` of
    (time of ``short + steps`` steps - time of ``short`` steps) / ``steps``.

    The difference cancels what a run does once (view statistics, optimizer set-up, the final
    checkpoint and encoder files); checkpoints in between are switched off, logging is as configured.
    """
    data = prepare_data(config.data)

    def timed_run(num_steps: int, directory: Path) -> float:
        """Seconds of one ``train()`` of ``num_steps`` steps into ``directory``."""
        run_config = replace(config, train=replace(config.train, steps=num_steps, progress=False, checkpoint_every=10**9))
        prepared = (data, build_model(run_config, data))
        start = CLOCK()
        train(run_config, RunDirectory(directory), prepared=prepared)
        return CLOCK() - start

    per_step = []
    with tempfile.TemporaryDirectory() as tmp:
        timed_run(short, Path(tmp) / "warm")  # one-time imports (torch.optim pulls in torch._dynamo)
        for repeat in range(repeats):
            short_s = timed_run(short, Path(tmp) / f"short{repeat}")
            long_s = timed_run(short + steps, Path(tmp) / f"long{repeat}")
            per_step.append((long_s - short_s) / steps * 1e3)
    return statistics.median(per_step)


def measure(bench: Bench, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Interleaved: each repeat runs a full step, then the two baselines on that step's views."""
    samples: dict[str, list[float]] = defaultdict(list)
    for step in range(warmup + repeats):
        phases = full_step(bench, step)
        views = make_batch_views(bench, step)
        bare = bare_step(bench, views, with_head=False)
        with_head = bare_step(bench, views, with_head=True)
        if step < warmup:
            continue
        for name, seconds in phases.items():
            samples[name].append(seconds)
        samples["step"].append(sum(phases.values()))
        samples["bare"].append(bare)
        samples["with_head"].append(with_head)
    return samples


def report(samples: dict[str, list[float]], loop_ms: float | None) -> None:
    """Print medians per phase, the baselines and the overhead ratios."""
    med = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    step, bare = med["step"], med["bare"]
    phase_total = sum(med[p] for p in PHASES)
    print(f"{'phase':<34} {'median ms':>10} {'% of step':>10}")
    for name in PHASES:
        print(f"{name:<34} {med[name]:>10.1f} {100 * med[name] / phase_total:>9.1f}%")
    print(f"{'full step (median of sums)':<34} {step:>10.1f}")
    print(f"{'bare encoder fwd+bwd':<34} {bare:>10.1f}")
    print(f"{'encoder + projector fwd+bwd':<34} {med['with_head']:>10.1f}")
    if loop_ms is not None:
        print(f"{'real train() loop, ms/step':<34} {loop_ms:>10.1f}")
    ratios = [s / b for s, b in zip(samples["step"], samples["bare"])]
    print(
        f"overhead of the step over the bare encoder: {100 * (step / bare - 1):.0f}% "
        f"(median of per-repeat ratios: {100 * (statistics.median(ratios) - 1):.0f}%; target <= 15%)"
    )
    print(f"overhead over encoder + projector: {100 * (step / med['with_head'] - 1):.0f}%")
    if loop_ms is not None:
        print(f"overhead of the real loop over the bare encoder: {100 * (loop_ms / bare - 1):.0f}%")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (default recipe otherwise)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall time or process CPU time")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--loop-steps", type=int, default=10, help="extra steps of each real train() run (0 = skip)")
    parser.add_argument("--loop-repeats", type=int, default=3, help="short/long train() pairs (median)")
    return parser.parse_args()


def main() -> None:
    global CLOCK
    args = parse_args()
    CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    torch.set_num_threads(args.threads)
    overrides = ["data.name=fashion_mnist", "method.name=pmsn", "encoder.name=vit", "train.batch_size=256", *args.overrides]
    config = resolve_config(raw_config([], overrides), data_kind=config_data_kind)
    bench = build(config)
    spec = bench.method.view_spec
    print(
        f"torch {torch.__version__}, {args.threads} threads, {args.clock} clock; encoder {config.encoder.name}, batch {config.train.batch_size}, "
        f"{spec.num_global} global + {spec.num_focal} focal views; overrides: {' '.join(overrides)}"
    )
    load_before = os.getloadavg()[0]
    samples = measure(bench, args.repeats, args.warmup)
    loop_ms = loop_ms_per_step(config, args.loop_steps, args.loop_repeats) if args.loop_steps else None
    report(samples, loop_ms)
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}, on {os.cpu_count()} logical CPUs")


if __name__ == "__main__":
    main()
