"""Benchmark: ``priormatch.pmsn_loss`` forward+backward against a straightforward PyTorch version.

Shapes follow the issue: 256 anchors x 1024 prototypes x 256 dims (one anchor view of 256
samples), CPU, 1 and 2 threads. The straightforward formulation is the obvious one: explicit
softmax probabilities, ``torch.log(p)`` cross-entropy, a Python-loop Sinkhorn over the plain
(float32) tensors and the KL written with ``torch.log``. Timings are interleaved (ours, theirs,
ours, ...) and repeated; medians and their ratio are printed together with the machine load.

    python benchmarks/pmsn_loss.py                 # defaults: 1 and 2 threads, 15 repeats
    python benchmarks/pmsn_loss.py --threads 1 --clock wall cpu --repeats 31
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

import priormatch as pm

LossFn = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # cpu: this process's CPU time


def straightforward_pmsn(
    anchors: Tensor,
    targets: Tensor,
    prototypes: Tensor,
    prior: Tensor,
    *,
    temperature: float = 0.1,
    sharpen_temperature: float = 0.25,
    sinkhorn_iterations: int = 3,
    regularization_weight: float = 1.0,
) -> Tensor:
    """The obvious PMSN loss: softmax probabilities, log(p) cross-entropy, float32 Sinkhorn loop."""
    anchors_n = F.normalize(anchors, dim=1)  # (M*N, D)
    prototypes_n = F.normalize(prototypes, dim=1)  # (K, D)
    with torch.no_grad():
        target_probs = torch.softmax(F.normalize(targets, dim=1) @ prototypes_n.t() / temperature, dim=1)  # (N, K)
        target_probs = target_probs ** (1.0 / sharpen_temperature)
        target_probs = target_probs / target_probs.sum(dim=1, keepdim=True)
        target_probs = straightforward_sinkhorn(target_probs, sinkhorn_iterations)
    num_views = anchors.shape[0] // targets.shape[0]
    probs = torch.softmax(anchors_n @ prototypes_n.t() / temperature, dim=1)  # (M*N, K)
    cross_entropy = -(target_probs.repeat(num_views, 1) * torch.log(probs)).sum(dim=1).mean()
    p_bar = probs.mean(dim=0)
    kl = (p_bar * (torch.log(p_bar) - torch.log(prior))).sum()
    return cross_entropy + regularization_weight * kl


def straightforward_sinkhorn(probs: Tensor, iterations: int) -> Tensor:
    """(N, K) Sinkhorn-Knopp with uniform marginals on the plain float32 tensor, rows summing to 1."""
    q = probs.t()  # (K, N)
    num_prototypes, batch = q.shape
    q = q / q.sum()
    for _ in range(iterations):
        q = q / q.sum(dim=1, keepdim=True) / num_prototypes
        q = q / q.sum(dim=0, keepdim=True) / batch
    q = q / q.sum(dim=0, keepdim=True)
    return q.t()


def ours(anchors: Tensor, targets: Tensor, prototypes: Tensor, prior: Tensor) -> Tensor:
    """priormatch.pmsn_loss with its defaults."""
    return pm.pmsn_loss(anchors, targets, prototypes, prior)


def theirs(anchors: Tensor, targets: Tensor, prototypes: Tensor, prior: Tensor) -> Tensor:
    """The straightforward formulation with the same defaults."""
    return straightforward_pmsn(anchors, targets, prototypes, prior)


@dataclass(frozen=True)
class Inputs:
    """One benchmark problem."""

    anchors: Tensor  # (M*N, D) leaf with grad
    targets: Tensor  # (N, D)
    prototypes: Tensor  # (K, D) leaf with grad
    prior: Tensor  # (K,)


def make_inputs(samples: int, views: int, prototypes: int, dim: int, tau: float, seed: int = 0) -> Inputs:
    """Seeded Gaussian anchors (views*samples, dim), targets, prototypes and a power-law prior."""
    g = torch.Generator().manual_seed(seed)
    return Inputs(
        anchors=torch.randn(views * samples, dim, generator=g).requires_grad_(True),
        targets=torch.randn(samples, dim, generator=g),
        prototypes=torch.randn(prototypes, dim, generator=g).requires_grad_(True),
        prior=pm.power_law_prior(prototypes, tau),
    )


def forward_backward(fn: LossFn, inputs: Inputs) -> Tensor:
    """Loss of ``fn`` and its backward into fresh gradients of anchors and prototypes."""
    inputs.anchors.grad = None
    inputs.prototypes.grad = None
    loss = fn(inputs.anchors, inputs.targets, inputs.prototypes, inputs.prior)
    loss.backward()
    return loss


def time_calls(fn: LossFn, inputs: Inputs, calls: int, clock: Callable[[], float]) -> float:
    """Seconds per forward+backward, averaged over ``calls`` back-to-back calls."""
    start = clock()
    for _ in range(calls):
        forward_backward(fn, inputs)
    return (clock() - start) / calls


def check_agreement(inputs: Inputs) -> float:
    """Largest absolute difference of loss and gradients between the two formulations."""
    ours_loss = forward_backward(ours, inputs).detach()
    ours_grads = (inputs.anchors.grad.clone(), inputs.prototypes.grad.clone())
    their_loss = forward_backward(theirs, inputs).detach()
    diffs = [
        (ours_loss - their_loss).abs().item(),
        (ours_grads[0] - inputs.anchors.grad).abs().max().item(),
        (ours_grads[1] - inputs.prototypes.grad).abs().max().item(),
    ]
    return max(diffs)


def benchmark(threads: int, inputs: Inputs, repeats: int, calls: int, warmup: int, clock: str) -> dict[str, float]:
    """Interleaved, repeated timings at ``threads``; returns medians (ms) and their ratio."""
    torch.set_num_threads(threads)
    for _ in range(warmup):
        forward_backward(ours, inputs)
        forward_backward(theirs, inputs)
    ours_times, their_times = [], []
    for repeat in range(repeats):
        order = (ours, theirs) if repeat % 2 == 0 else (theirs, ours)  # alternate who goes first
        for fn in order:
            (ours_times if fn is ours else their_times).append(time_calls(fn, inputs, calls, CLOCKS[clock]))
    ours_ms, their_ms = statistics.median(ours_times) * 1e3, statistics.median(their_times) * 1e3
    return {"threads": threads, "ours_ms": ours_ms, "straightforward_ms": their_ms, "ratio": ours_ms / their_ms}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=256, help="N targets (anchors = views * N)")
    parser.add_argument("--views", type=int, default=1, help="anchor views M per sample")
    parser.add_argument("--prototypes", type=int, default=1024, help="K")
    parser.add_argument("--dim", type=int, default=256, help="D")
    parser.add_argument("--tau", type=float, default=0.25, help="power-law prior exponent")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats per formulation")
    parser.add_argument("--calls", type=int, default=10, help="back-to-back calls per timing")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        nargs="+",
        default=["wall"],
        help="wall time and/or process CPU time (robust on a busy machine at 1 thread)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    inputs = make_inputs(args.samples, args.views, args.prototypes, args.dim, args.tau)
    print(
        f"torch {torch.__version__}; anchors {tuple(inputs.anchors.shape)}, prototypes {tuple(inputs.prototypes.shape)}, "
        f"targets {tuple(inputs.targets.shape)}; power-law prior tau={args.tau}"
    )
    print(f"max |difference| of loss and gradients (ours vs straightforward): {check_agreement(inputs):.2e}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} logical CPUs")
    print(f"{'clock':>5} {'threads':>7} {'ours ms':>9} {'straightforward ms':>19} {'ratio ours/straightforward':>27}")
    for clock in args.clock:
        for threads in args.threads:
            row = benchmark(threads, inputs, args.repeats, args.calls, args.warmup, clock)
            print(f"{clock:>5} {threads:>7} {row['ours_ms']:>9.2f} {row['straightforward_ms']:>19.2f} {row['ratio']:>27.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
