"""Benchmark: one training step and its peak memory for every method, same encoder and batch.

A step is what the training loop does per batch: forward, backward, AdamW step and the EMA
teacher update (MSN, PMSN, data2vec). Every method wraps the default ViT (encoders/configs.py:
patch 7, width 128, depth 4) on 28x28 one-channel inputs (the Fashion-MNIST shape) with its
documented default config (configs/fashion_mnist/<name>.yaml), and gets the views its ViewSpec
asks for as random tensors (global 28x28, focal 14x14): augmentation and data loading are left
out, so the numbers compare the objectives and their architecture, not the input pipeline.

Each method runs in its own fresh subprocess, so that one method's allocations cannot hide or
inflate another's:

* time: median wall-clock and CPU (``time.process_time``) seconds of the timed steps, after
  warm-up steps. On a shared machine the CPU time is the steadier number; both are printed.
* peak memory (CPU): the process's peak resident set size during the steps minus its resident
  size just before them (Linux: the peak is reset through /proc/self/clear_refs, then read from
  VmHWM). It counts everything the steps add: activations, gradients, the optimizer state (created
  at the first step) and allocator slack; the model weights and inputs are in the baseline.
  tracemalloc cannot see torch's allocations, hence RSS. On CUDA: torch.cuda.max_memory_allocated
  minus the allocation before the steps.

    python benchmarks/method_step_time.py                       # all methods, batch 256, 1 thread
    python benchmarks/method_step_time.py --methods msn mae --batch 64 --steps 5 --threads 2
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from priormatch.encoders import build_encoder
from priormatch.methods import METHODS, DataInfo, build_method
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.optimizer import make_optimizer

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "fashion_mnist"
INPUT_SHAPE = (1, 28, 28)
FOCAL_SIDE = 14
ORDER = ("msn", "pmsn", "simclr", "vicreg", "swav", "mae", "data2vec")
EMA_MOMENTUM = 0.996  # any value: the update costs the same


def _rss_kib() -> int:
    """Current resident set size in KiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def build(name: str, device: torch.device):
    config = resolve_config(raw_config([CONFIGS / f"{name}.yaml"]), data_kind=lambda _: "image")
    torch.manual_seed(0)
    encoder = build_encoder(config.encoder, INPUT_SHAPE)
    info = DataInfo(kind="image", input_shape=INPUT_SHAPE, class_counts=tuple([6000] * 10))
    method = build_method(config.method, encoder, info).to(device)
    return method, make_optimizer(method, lr=1e-4, weight_decay=0.04)


def make_views(method, batch: int, device: torch.device) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    spec = method.view_spec
    global_views = [torch.randn(batch, *INPUT_SHAPE, generator=g).to(device) for _ in range(spec.num_global)]
    focal_views = [torch.randn(batch, INPUT_SHAPE[0], FOCAL_SIDE, FOCAL_SIDE, generator=g).to(device) for _ in range(spec.num_focal)]
    return global_views, focal_views


def train_step(method, optimizer, views, step: int, device: torch.device) -> None:
    output = method(*views, generator=torch.Generator(device=device).manual_seed(step))
    optimizer.zero_grad(set_to_none=True)
    output.loss.backward()
    optimizer.step()
    if method.uses_teacher:
        method.update_teacher(EMA_MOMENTUM)


def measure(name: str, batch: int, warmup: int, steps: int, device: torch.device) -> dict:
    """Time and peak memory of ``steps`` training steps of one method (run in a fresh process)."""
    method, optimizer = build(name, device)
    views = make_views(method, batch, device)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        baseline = _rss_kib() * 1024
        exact_peak = _reset_peak_rss()
    wall, cpu = [], []
    for step in range(warmup + steps):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        train_step(method, optimizer, views, step, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
    if device.type == "cuda":
        peak, peak_kind = torch.cuda.max_memory_allocated() - baseline, "cuda allocated"
    else:
        peak, peak_kind = _peak_rss_kib() * 1024 - baseline, "rss (VmHWM reset)" if exact_peak else "rss (lifetime maxrss)"
    return {
        "method": name,
        "views": f"{method.view_spec.num_global}+{method.view_spec.num_focal}",
        "trainable_params": sum(p.numel() for p in method.parameters() if p.requires_grad),
        "wall_s": statistics.median(wall),
        "cpu_s": statistics.median(cpu),
        "peak_bytes": max(peak, 0),
        "peak_kind": peak_kind,
    }


def run_isolated(name: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--batch",
        str(args.batch),
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"benchmark of {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    reference = next((r for r in rows if r["method"] == "msn"), rows[0])
    print(
        f"device={args.device} threads={args.threads} batch={args.batch} warmup={args.warmup} steps={args.steps} "
        f"torch={torch.__version__} load1={os.getloadavg()[0]:.2f} peak={reference['peak_kind']}"
    )
    print(
        f"| method | views (global+focal) | trainable params | step wall (s) | step CPU (s) | CPU time / {reference['method']} | peak memory (MiB) | memory / {reference['method']} |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['method']} | {r['views']} | {r['trainable_params'] / 1e6:.2f} M | {r['wall_s']:.3f} | {r['cpu_s']:.3f} | "
            f"{r['cpu_s'] / reference['cpu_s']:.2f} | {r['peak_bytes'] / 2**20:.0f} | {r['peak_bytes'] / max(reference['peak_bytes'], 1):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=[m for m in ORDER if m in METHODS], choices=sorted(METHODS))
    parser.add_argument("--batch", type=int, default=256, help="samples per step (the Fashion-MNIST default)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (allocator, optimizer state)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(measure(args.worker, args.batch, args.warmup, args.steps, torch.device(args.device))))
        return
    print_table([run_isolated(name, args) for name in args.methods], args)


if __name__ == "__main__":
    main()
